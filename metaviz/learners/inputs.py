"""Checks of what a caller passes to a learner's public methods.

``learner.adapt_trajectory(x_support, y_support, x_query, steps, lr=None)`` and
``learner.predictive(x_support, y_support, x_query)`` are the public API (with
``metaviz.load_learner``). A wrong shape, dtype, device, a nan, or a step count of
2.5 must be one ``ValueError`` naming the argument and what was expected, never a
raw torch error from three calls deep, and never a silent nan. :class:`Learner`
applies :func:`checked_adaptation` and :func:`checked_predictive` to every
subclass's own definition of those methods (see ``Learner.__init_subclass__``), so
every learner, plugins included, gets the checks without writing them.

K = 0 support points is valid (the window lets a user clear every point): the fit
then stays where it started.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import torch

CPU = torch.device("cpu")
MAX_ADAPT_STEPS = 1000  # as evaluation's: more steps than any curve needs, and bounded memory
# Any rate a float32 step can apply: a large one may make predictions inf or nan (the
# contract: a diverging rate is counted, not raised), a larger one cannot be applied.
MAX_ADAPT_LR = float(torch.finfo(torch.float32).max)


def _check_points(name: str, value: Any, shape: str, device: torch.device) -> torch.Tensor:
    """``value`` if it is a finite float32 tensor of shape [T, N, 1], on the CPU or on
    ``device`` (the learner's)."""
    expected = f"a float32 tensor of shape {shape}"
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be {expected}, got {type(value).__name__}")
    if value.layout != torch.strided:
        raise ValueError(f"{name} must be a dense tensor of shape {shape}, got layout {value.layout}")
    if value.device.type not in ("cpu", device.type):
        raise ValueError(f"{name} must be on the CPU ({expected}), got a tensor on {value.device}")
    if value.dtype != torch.float32:
        dtype = str(value.dtype).removeprefix("torch.")
        raise ValueError(f"{name} must be {expected}, got {dtype} (convert it with .float())")
    if value.dim() != 3 or value.shape[-1] != 1:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one task (T >= 1 in {shape}), got {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} holds nan or inf")
    return value


def check_points(x_support: Any, y_support: Any, x_query: Any, device: torch.device = CPU) -> None:
    """x_support, y_support [T, K, 1] (K may be 0), x_query [T, Q, 1] (Q >= 1): float32,
    on the CPU (or ``device``, the learner's), finite, the same T everywhere and the same K
    for x and y."""
    _check_points("x_support", x_support, "[T, K, 1]", device)
    tasks, shots = x_support.shape[:2]
    _check_points("y_support", y_support, "[T, K, 1]", device)
    if tuple(y_support.shape) != (tasks, shots, 1):
        raise ValueError(f"y_support must have the shape of x_support, [T, K, 1] = [{tasks}, {shots}, 1], "
                         f"got {tuple(y_support.shape)}")
    _check_points("x_query", x_query, "[T, Q, 1]", device)
    if x_query.shape[0] != tasks:
        raise ValueError(f"x_query must have shape [T, Q, 1] with T = {tasks} (the tasks of x_support), "
                         f"got {tuple(x_query.shape)}")
    if x_query.shape[1] == 0:
        raise ValueError(f"x_query must hold at least one point (Q >= 1 in [T, Q, 1]), got {tuple(x_query.shape)}")
    for name, value in (("y_support", y_support), ("x_query", x_query)):
        if value.device != x_support.device:
            raise ValueError(f"{name} must be on the device of x_support ({x_support.device}), got {value.device}")


def check_steps(steps: Any) -> int:
    """``steps`` as an int in [0, MAX_ADAPT_STEPS] (an integer, not 2.0 or True)."""
    if isinstance(steps, bool):
        raise ValueError(f"steps must be an integer in [0, {MAX_ADAPT_STEPS}], got {steps}")
    try:
        count = operator.index(steps)
    except TypeError:
        raise ValueError(f"steps must be an integer in [0, {MAX_ADAPT_STEPS}], got {steps!r}") from None
    if not 0 <= count <= MAX_ADAPT_STEPS:
        shown = count if abs(count) < 10**12 else "an integer that large"
        raise ValueError(f"steps must be an integer in [0, {MAX_ADAPT_STEPS}], got {shown}")
    return count


def check_lr(lr: Any) -> float | None:
    """``lr`` as a float in (0, MAX_ADAPT_LR], or None (the learner's default rate)."""
    if lr is None:
        return None
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):  # numpy scalars are Real too
        raise ValueError(f"lr must be None or a number > 0, got {type(lr).__name__}")
    try:
        rate = float(lr)
    except OverflowError:
        rate = math.inf
    if not (math.isfinite(rate) and 0 < rate <= MAX_ADAPT_LR):
        raise ValueError(f"lr must be None or a finite number > 0 (at most {MAX_ADAPT_LR:.3g}), got {rate:g}")
    return rate


def _device_of(learner: Any) -> torch.device:
    device = getattr(learner, "device", CPU)
    return device if isinstance(device, torch.device) else CPU


def _on(device: torch.device, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return tuple(t.to(device) for t in tensors)


def checked_adaptation(method: Callable) -> Callable:
    """``adapt_trajectory`` with its arguments checked first (steps and lr normalised to
    int and float), run on the learner's device and answered on the points' device: a
    learner written for the CPU runs on CUDA with no code of its own for it."""

    @functools.wraps(method)
    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        device = _device_of(self)
        check_points(x_support, y_support, x_query, device)
        points = _on(device, (x_support, y_support, x_query))
        return method(self, *points, check_steps(steps), check_lr(lr)).to(x_query.device)

    adapt_trajectory.checks_inputs = True
    return adapt_trajectory


def checked_predictive(method: Callable) -> Callable:
    """``predictive`` with its arguments checked first, on the learner's device, answered
    on the points' device."""

    @functools.wraps(method)
    def predictive(self, x_support, y_support, x_query):
        device = _device_of(self)
        check_points(x_support, y_support, x_query, device)
        return _on(x_query.device, method(self, *_on(device, (x_support, y_support, x_query))))

    predictive.checks_inputs = True
    return predictive
