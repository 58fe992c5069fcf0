"""Tasks shown in the explorer: immutable samples and a history the user can walk.

Qt-free. Every edit (add/remove/clear points, resample, hand-made task parameters)
returns a new :class:`TaskSample`; the history stores it in place of the current
entry, so walking back and forth shows each task as last edited.

A task is a draw from its family (its ``params``) or a curve the user drew
(:class:`DrawnCurve`): then it has no parameters, and its truth is the drawn curve.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .streams import Stream, stream
from .tasks import TaskFamily


@dataclass(frozen=True, eq=False)
class DrawnCurve:
    """A ground truth drawn by hand: the piecewise-linear curve through (``x``, ``y``) [M]
    (float64, x strictly increasing, M >= 2), defined on [x[0], x[-1]] only."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def from_stroke(cls, xs, ys, x_range: tuple[float, float]) -> DrawnCurve:
        """The curve through the points of a mouse stroke, in any order: clipped to
        ``x_range``, sorted by x, and where several points share an x, their mean y."""
        xs, ys = np.asarray(xs, dtype=np.float64).reshape(-1), np.asarray(ys, dtype=np.float64).reshape(-1)
        if xs.shape != ys.shape:
            raise ValueError(f"xs and ys must have the same length, got {xs.size} and {ys.size}")
        if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
            raise ValueError("xs and ys must be finite numbers")
        xs = np.clip(xs, *x_range)
        unique, where = np.unique(xs, return_inverse=True)
        if unique.size < 2:
            raise ValueError("xs must span at least two distinct x values within the x range "
                             f"[{x_range[0]:g}, {x_range[1]:g}] to make a curve")
        means = np.bincount(where, weights=ys) / np.bincount(where)
        return cls(x=unique, y=means)

    @property
    def span(self) -> tuple[float, float]:
        return float(self.x[0]), float(self.x[-1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """y at x [N] (float64): linear between the drawn points, nan outside them."""
        x = np.asarray(x, dtype=np.float64)
        inside = (x >= self.x[0]) & (x <= self.x[-1])
        return np.where(inside, np.interp(x, self.x, self.y), np.nan)


@dataclass(frozen=True, eq=False)
class TaskSample:
    """One task of ``family`` (its parameters ``params``, in the family's declared order)
    with K support and Q query points; or, when ``drawn`` is set, the curve a user drew
    (``params`` is then empty: sliders cannot make it).

    ``x_support``/``y_support``: [K]; ``x_query``/``y_query``: [Q] (float64 numpy).
    """

    family: TaskFamily
    params: tuple[float, ...]
    x_support: np.ndarray
    y_support: np.ndarray
    x_query: np.ndarray
    y_query: np.ndarray
    drawn: DrawnCurve | None = None

    @property
    def shots(self) -> int:
        return len(self.x_support)

    def truth(self, x: np.ndarray) -> np.ndarray:
        """The noise-free function at x [N] (float64), from the family's own truth or the
        drawn curve (nan outside the drawn span)."""
        if self.drawn is not None:
            return self.drawn(x)
        x = torch.as_tensor(np.asarray(x, dtype=np.float64)).view(1, -1, 1)
        tasks = torch.tensor([self.params], dtype=torch.float64)
        return self.family.truth(tasks, x).reshape(-1).numpy()

    def with_point(self, x: float, y: float) -> TaskSample:
        return replace(self, x_support=np.append(self.x_support, x), y_support=np.append(self.y_support, y))

    def without_nearest(self, x: float, y: float, y_scale: float = 1.0) -> TaskSample:
        """Drop the support point closest to (x, y); ``y_scale`` converts y to x units
        so "closest" matches what the user sees on screen."""
        if self.shots == 0:
            return self
        distance = (self.x_support - x) ** 2 + ((self.y_support - y) * y_scale) ** 2
        keep = np.arange(self.shots) != int(np.argmin(distance))
        return replace(self, x_support=self.x_support[keep], y_support=self.y_support[keep])

    def cleared(self) -> TaskSample:
        return replace(self, x_support=np.empty(0), y_support=np.empty(0))

    def with_task(self, params) -> TaskSample:
        """The same inputs relabelled by hand-made task parameters (noise-free); a drawn
        task becomes the family's task of those parameters."""
        moved = replace(self, params=tuple(float(v) for v in params), drawn=None)
        return replace(moved, y_support=moved.truth(self.x_support), y_query=moved.truth(self.x_query))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.reshape(-1).numpy().astype(np.float64)


class TaskHistory:
    """Random tasks drawn from ``family`` with a seeded generator, and a cursor."""

    def __init__(self, family: TaskFamily, seed: int, query: int = 10) -> None:
        self.family = family
        self.query = query
        self._generator = stream(Stream.WINDOW_TASKS, seed)
        self._entries: list[TaskSample] = []
        self._index = -1

    @property
    def current(self) -> TaskSample:
        return self._entries[self._index]

    @property
    def index(self) -> int:
        return self._index

    def __len__(self) -> int:
        return len(self._entries)

    def can_go_back(self) -> bool:
        return self._index > 0

    def can_go_forward(self) -> bool:
        return self._index < len(self._entries) - 1

    def new_random(self, shots: int) -> TaskSample:
        """Draw a task, append it and move to it."""
        tasks = self.family.sample_tasks(1, self._generator)
        self._entries.append(self._points(tuple(tasks[0].tolist()), shots))
        self._index = len(self._entries) - 1
        return self.current

    def resample(self, shots: int) -> TaskSample:
        """New support and query points for the current task."""
        current = self.current
        if current.drawn is not None:
            return self.replace(self._drawn_points(current.drawn, shots))
        return self.replace(self._points(current.params, shots))

    def draw(self, xs, ys, shots: int) -> TaskSample:
        """A task whose truth is the curve through the stroke (``xs``, ``ys``) (see
        :meth:`DrawnCurve.from_stroke`), with ``shots`` support and ``query`` points drawn
        on it from this history's stream; appended, and moved to."""
        curve = DrawnCurve.from_stroke(xs, ys, self.family.ranges["x"])
        self._entries.append(self._drawn_points(curve, shots))
        self._index = len(self._entries) - 1
        return self.current

    def previous(self) -> TaskSample:
        self._index = max(self._index - 1, 0)
        return self.current

    def next(self) -> TaskSample:
        self._index = min(self._index + 1, len(self._entries) - 1)
        return self.current

    def replace(self, sample: TaskSample) -> TaskSample:
        self._entries[self._index] = sample
        return sample

    def _points(self, params: tuple[float, ...], shots: int) -> TaskSample:
        tasks = torch.tensor([params], dtype=torch.float32)
        x_support = self.family.sample_x(tasks, shots, self._generator)
        x_query = self.family.sample_x(tasks, self.query, self._generator)
        # Labels from the truth in float64 (the noise, if any, drawn as before): a point is
        # then exactly on the curve drawn, and the oracle can recover the truth to 1e-6.
        tasks = tasks.to(torch.float64)
        return TaskSample(
            family=self.family,
            params=tuple(params),
            x_support=_numpy(x_support),
            y_support=_numpy(self.family.observe(tasks, x_support.to(torch.float64), self._generator)),
            x_query=_numpy(x_query),
            y_query=_numpy(self.family.observe(tasks, x_query.to(torch.float64), self._generator)),
        )

    def _drawn_points(self, curve: DrawnCurve, shots: int) -> TaskSample:
        """Support and query points uniform on the drawn span, labelled by the curve plus
        the family's label noise."""
        def observe(count: int) -> tuple[np.ndarray, np.ndarray]:
            x = _numpy(torch.empty(count).uniform_(*curve.span, generator=self._generator))
            y = curve(x)
            if self.family.noise_std > 0:
                y = y + self.family.noise_std * _numpy(torch.randn(count, generator=self._generator))
            return x, y

        (x_support, y_support), (x_query, y_query) = observe(shots), observe(self.query)
        return TaskSample(family=self.family, params=(), x_support=x_support, y_support=y_support,
                          x_query=x_query, y_query=y_query, drawn=curve)
