"""Settings as frozen dataclasses: validated on construction, round-tripped as plain dicts.

Every field that a user can type (CLI flag, slider, JSON file) lands here, so this is
the one place that says what a valid value is. Invalid values raise ``ValueError``
naming the field, never a tensor error three calls later.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

LEARNER_KINDS = ("maml", "fomaml", "multitask", "pretrained")


def _check_finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def _check_positive(name: str, value: Any) -> float:
    value = _check_finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_range(name: str, low: Any, high: Any) -> None:
    low = _check_finite(f"{name}_min", low)
    high = _check_finite(f"{name}_max", high)
    if not low < high:
        raise ValueError(f"{name} range is empty or reversed: [{low}, {high}]")


@dataclass(frozen=True)
class TaskConfig:
    """The sinusoid family y = A sin(x - phase) (+ noise), Finn et al. 2017, section 5.1."""

    amp_min: float = 0.1
    amp_max: float = 5.0
    phase_min: float = 0.0
    phase_max: float = math.pi
    x_min: float = -5.0
    x_max: float = 5.0
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        _check_range("amp", self.amp_min, self.amp_max)
        _check_range("phase", self.phase_min, self.phase_max)
        _check_range("x", self.x_min, self.x_max)
        if _check_finite("noise_std", self.noise_std) < 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: learner kind, architecture, budget and rates.

    ``inner_lr`` is alpha (MAML's inner SGD step and the default test-time rate),
    ``meta_lr`` is beta (Adam). The meta lr follows a cosine decay from ``meta_lr``
    to ``meta_lr * final_lr_fraction`` over ``iterations``; both rates may be changed
    between meta-steps (see :mod:`metaviz.training`).
    """

    learner: str = "maml"
    iterations: int = 8500
    seed: int = 0
    inner_lr: float = 0.01
    meta_lr: float = 0.01
    final_lr_fraction: float = 0.01
    inner_steps: int = 1
    meta_batch: int = 25
    shots: int = 10
    query: int = 10
    hidden: tuple[int, ...] = (40, 40)
    pool_size: int = 200
    eval_every: int = 500
    eval_tasks: int = 100
    task: TaskConfig = field(default_factory=TaskConfig)

    def __post_init__(self) -> None:
        if self.learner not in LEARNER_KINDS:
            raise ValueError(f"learner must be one of {', '.join(LEARNER_KINDS)}, got {self.learner!r}")
        _check_int("iterations", self.iterations, 1)
        _check_int("seed", self.seed, 0)
        _check_positive("inner_lr", self.inner_lr)
        _check_positive("meta_lr", self.meta_lr)
        fraction = _check_positive("final_lr_fraction", self.final_lr_fraction)
        if fraction > 1:
            raise ValueError(f"final_lr_fraction must be <= 1, got {fraction}")
        _check_int("inner_steps", self.inner_steps, 1)
        _check_int("meta_batch", self.meta_batch, 1)
        _check_int("shots", self.shots, 1)
        _check_int("query", self.query, 1)
        _check_int("pool_size", self.pool_size, 1)
        _check_int("eval_every", self.eval_every, 1)
        _check_int("eval_tasks", self.eval_tasks, 1)
        if not isinstance(self.hidden, tuple) or not self.hidden:
            raise ValueError(f"hidden must be a non-empty tuple of layer widths, got {self.hidden!r}")
        for width in self.hidden:
            _check_int("hidden", width, 1)
        if not isinstance(self.task, TaskConfig):
            raise ValueError("task must be a TaskConfig")

    @property
    def first_order(self) -> bool:
        return self.learner == "fomaml"

    def with_changes(self, **changes: Any) -> TrainConfig:
        """A validated copy with ``changes`` applied (task fields may be given flat)."""
        task_names = {f.name for f in fields(TaskConfig)}
        task_changes = {k: changes.pop(k) for k in list(changes) if k in task_names}
        task = replace(self.task, **task_changes) if task_changes else self.task
        return replace(self, task=task, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (tuples become lists)."""
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys and bad values raise ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError(f"settings must be a mapping, got {type(data).__name__}")
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(map(str, unknown))}")
        task = data.pop("task", {})
        if not isinstance(task, dict):
            raise ValueError("task must be a mapping")
        task_known = {f.name for f in fields(TaskConfig)}
        task_unknown = sorted(set(task) - task_known)
        if task_unknown:
            raise ValueError(f"unknown task setting(s): {', '.join(map(str, task_unknown))}")
        if "hidden" in data:
            hidden = data["hidden"]
            if not isinstance(hidden, (list, tuple)):
                raise ValueError(f"hidden must be a list of layer widths, got {hidden!r}")
            data["hidden"] = tuple(hidden)
        try:
            return cls(task=TaskConfig(**task), **data)
        except TypeError as exc:  # e.g. a missing positional in a hand-edited file
            raise ValueError(str(exc)) from exc


def default_config(learner: str = "maml", **changes: Any) -> TrainConfig:
    """The defaults for ``learner``: the paper's setup plus the budget that reproduces it."""
    if learner not in LEARNER_KINDS:
        raise ValueError(f"learner must be one of {', '.join(LEARNER_KINDS)}, got {learner!r}")
    base = TrainConfig(learner=learner, **LEARNER_DEFAULTS[learner])
    return base.with_changes(**changes) if changes else base


# Per-learner budgets and peak meta lr, measured to reach PROTOCOL.md's targets
# (README, "Benchmarks"). The paper's beta = 1e-3 held constant needs ~70,000
# iterations; a 10x higher peak decayed by a cosine gets there in 8,500 (~14 s).
# The multi-task model sees every pool task in every step (meta_batch = pool_size).
LEARNER_DEFAULTS: dict[str, dict[str, Any]] = {
    "maml": {},
    "fomaml": {},
    "multitask": {"iterations": 4000, "meta_batch": 200, "pool_size": 200},
    "pretrained": {"iterations": 3000, "meta_lr": 3e-3},
}
