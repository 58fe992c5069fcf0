"""Settings as frozen dataclasses: validated on construction, round-tripped as plain dicts.

Every field that a user can type (CLI flag, slider, JSON file) lands here, so this is
the one place that says what a valid value is. Invalid values raise ``ValueError``
naming the field, never a tensor error three calls later.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# Bounds on everything a user can type: no setting may build an absurd model, hang a
# loop or overflow a float32 (issue: a seed of 1e30 or a width of 100,000 must be refused).
MAX_MAGNITUDE = 1e4  # ranges, noise
MAX_RATE = 100.0
MAX_SEED = 2**31 - 1
MAX_WIDTH = 1024
MAX_DEPTH = 8
# The multi-task heads [pool_size, width + 1]: 100,000 pool tasks at width 40, or 4,096 at 1024.
MAX_HEAD_PARAMETERS = 2**22
LIMITS = {  # integer settings: (minimum, maximum)
    "iterations": (1, 10_000_000),
    "warmup": (0, 10_000_000),
    "seed": (0, MAX_SEED),
    "inner_steps": (1, 100),
    "meta_batch": (1, 10_000),
    "shots": (1, 1000),
    "query": (1, 1000),
    "pool_size": (1, 100_000),
    "eval_every": (1, 10_000_000),
    "eval_tasks": (2, 10_000),
}


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


def _check_int(name: str, value: Any, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum:,}, got {value:,}")
    return value


def _check_rate(name: str, value: Any) -> float:
    value = _check_positive(name, value)
    if value > MAX_RATE:
        raise ValueError(f"{name} must be <= {MAX_RATE:g}, got {value:g}")
    return value


def _check_range(name: str, low: Any, high: Any) -> None:
    low = _check_finite(f"{name} range low", low)
    high = _check_finite(f"{name} range high", high)
    if max(abs(low), abs(high)) > MAX_MAGNITUDE:
        raise ValueError(f"{name} range must lie within +-{MAX_MAGNITUDE:g}, got [{low:g}, {high:g}]")
    if not low < high:
        raise ValueError(f"{name} range is empty or reversed: [{low}, {high}]")


@dataclass(frozen=True)
class TaskConfig:
    """Which task family, its ranges, its label noise and its options.

    ``ranges`` holds (parameter, low, high) triples that override the family's declared
    defaults (``x`` is the input range); a family fills in the rest when built
    (:func:`metaviz.tasks.make_family`), so a learner's settings always list every range.
    ``options`` holds (name, value) pairs for the family's fixed settings that are not
    task parameters (e.g. a Gaussian process's kernel length scale); the family declares
    which exist and their bounds, and fills in its defaults the same way.
    The family name and option names are checked there too: this module imports no family.
    """

    family: str = "sinusoid"
    ranges: tuple[tuple[str, float, float], ...] = ()
    noise_std: float = 0.0
    options: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.family, str) or not self.family.isidentifier():
            raise ValueError(f"family must be a name, got {self.family!r}")
        if not isinstance(self.ranges, tuple):
            raise ValueError("ranges must be a tuple of (name, low, high)")
        seen = set()
        for entry in self.ranges:
            if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str)):
                raise ValueError(f"a range must be (name, low, high), got {entry!r}")
            name, low, high = entry
            if name in seen:
                raise ValueError(f"range {name!r} is given twice")
            seen.add(name)
            _check_range(name, low, high)
        noise = _check_finite("noise_std", self.noise_std)
        if not 0 <= noise <= MAX_MAGNITUDE:
            raise ValueError(f"noise_std must be in [0, {MAX_MAGNITUDE:g}], got {self.noise_std}")
        if not isinstance(self.options, tuple):
            raise ValueError("options must be a tuple of (name, value)")
        names = [entry[0] if isinstance(entry, tuple) and len(entry) == 2 else None for entry in self.options]
        for entry, name in zip(self.options, names):
            if not isinstance(name, str):
                raise ValueError(f"an option must be (name, value), got {entry!r}")
            if names.count(name) > 1:
                raise ValueError(f"option {name!r} is given twice")
            if abs(_check_finite(f"option {name}", entry[1])) > MAX_MAGNITUDE:
                raise ValueError(f"option {name} must lie within +-{MAX_MAGNITUDE:g}, got {entry[1]:g}")

    def range(self, name: str) -> tuple[float, float] | None:
        """The override for ``name``, or None (then the family's default applies)."""
        for entry, low, high in self.ranges:
            if entry == name:
                return low, high
        return None

    def with_range(self, name: str, low: float, high: float) -> TaskConfig:
        kept = tuple(entry for entry in self.ranges if entry[0] != name)
        return replace(self, ranges=(*kept, (name, float(low), float(high))))

    def option(self, name: str) -> float | None:
        """The value given for option ``name``, or None (then the family's default applies)."""
        return dict(self.options).get(name)

    def with_option(self, name: str, value: float) -> TaskConfig:
        kept = tuple(entry for entry in self.options if entry[0] != name)
        return replace(self, options=(*kept, (name, float(value))))

    def to_dict(self) -> dict[str, Any]:
        data = {"family": self.family, "ranges": {name: [low, high] for name, low, high in self.ranges},
                "noise_std": self.noise_std}
        if self.options:  # absent when empty: the files of option-less families read as before
            data["options"] = dict(self.options)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> TaskConfig:
        """Inverse of :meth:`to_dict`. Also reads the first version's flat sinusoid fields
        (``amp_min``, ``phase_max``, ``x_min``, ...), so older checkpoints still load."""
        if not isinstance(data, dict):
            raise ValueError("task must be a mapping")
        data = dict(data)
        ranges = data.pop("ranges", {})
        if not isinstance(ranges, dict):
            raise ValueError("task ranges must be a mapping of name to [low, high]")
        for legacy in ("amp", "phase", "x"):
            if f"{legacy}_min" in data or f"{legacy}_max" in data:
                ranges[legacy] = [data.pop(f"{legacy}_min", None), data.pop(f"{legacy}_max", None)]
        options = data.pop("options", {})  # files written before options existed have none
        if not isinstance(options, dict):
            raise ValueError("task options must be a mapping of name to value")
        unknown = sorted(set(data) - {"family", "noise_std"})
        if unknown:
            raise ValueError(f"unknown task setting(s): {', '.join(map(str, unknown))}")
        triples = []
        for name, bounds in ranges.items():
            if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
                raise ValueError(f"range {name!r} must be [low, high], got {bounds!r}")
            triples.append((str(name), *bounds))
        return cls(family=data.get("family", "sinusoid"), ranges=tuple(triples),
                   noise_std=data.get("noise_std", 0.0),
                   options=tuple((str(name), value) for name, value in options.items()))


@dataclass(frozen=True)
class TrainConfig:
    """One training run: learner kind, architecture, budget and rates.

    ``inner_lr`` is alpha (MAML's inner SGD step and the default test-time rate),
    ``meta_lr`` is beta (Adam). The meta lr rises linearly over the first ``warmup``
    iterations (at most half the budget; 0: none), then follows a cosine decay from
    ``meta_lr`` to ``meta_lr * final_lr_fraction`` at ``iterations``; both rates may be
    changed between meta-steps (see :mod:`metaviz.jobs.training`).
    """

    learner: str = "maml"
    iterations: int = 8500
    seed: int = 0
    inner_lr: float = 0.01
    meta_lr: float = 0.01
    final_lr_fraction: float = 0.01
    warmup: int = 0
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
        # The learner's name is checked where a learner is built (metaviz.learners):
        # the registry imports this module, so this module cannot import the registry.
        if not isinstance(self.learner, str) or not self.learner.isidentifier():
            raise ValueError(f"learner must be a name, got {self.learner!r}")
        for name, (low, high) in LIMITS.items():
            _check_int(name, getattr(self, name), low, high)
        _check_rate("inner_lr", self.inner_lr)
        _check_rate("meta_lr", self.meta_lr)
        fraction = _check_positive("final_lr_fraction", self.final_lr_fraction)
        if fraction > 1:
            raise ValueError(f"final_lr_fraction must be <= 1, got {fraction}")
        if not isinstance(self.hidden, tuple) or not 1 <= len(self.hidden) <= MAX_DEPTH:
            raise ValueError(f"hidden must hold 1 to {MAX_DEPTH} layer widths, got {self.hidden!r}")
        for width in self.hidden:
            _check_int("hidden layer width", width, 1, MAX_WIDTH)
        heads = self.pool_size * (self.hidden[-1] + 1)
        if heads > MAX_HEAD_PARAMETERS:  # a file of 1 KB must not build a model of gigabytes
            raise ValueError(f"pool_size x (last hidden width + 1) must be at most {MAX_HEAD_PARAMETERS:,} "
                             f"(one head per pool task), got {self.pool_size:,} x {self.hidden[-1] + 1:,}")
        if not isinstance(self.task, TaskConfig):
            raise ValueError("task must be a TaskConfig")

    def with_changes(self, **changes: Any) -> TrainConfig:
        """A validated copy with ``changes`` applied (``family`` and ``noise_std`` may be given flat)."""
        base = changes.pop("task", self.task)  # a whole TaskConfig may be given too
        task_changes = {k: changes.pop(k) for k in ("family", "noise_std") if k in changes}
        task = replace(base, **task_changes) if task_changes else base
        if "family" in task_changes and task_changes["family"] != base.family:
            task = replace(task, ranges=(), options=())  # another family's settings mean nothing to this one
        return replace(self, task=task, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (tuples become lists)."""
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["task"] = self.task.to_dict()
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
        task = TaskConfig.from_dict(data.pop("task", {}))
        if "hidden" in data:
            hidden = data["hidden"]
            if not isinstance(hidden, (list, tuple)):
                raise ValueError(f"hidden must be a list of layer widths, got {hidden!r}")
            data["hidden"] = tuple(hidden)
        try:
            return cls(task=task, **data)
        except TypeError as exc:  # e.g. a missing positional in a hand-edited file
            raise ValueError(str(exc)) from exc
