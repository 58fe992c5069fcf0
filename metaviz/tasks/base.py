"""The task-family contract: what a family of regression tasks declares and does.

A family is one class in one module, listed in that module's ``FAMILIES`` tuple (see
:mod:`metaviz.registry`). It declares its task parameters (name, label, default
range), samples tasks and points in batches from an explicit ``torch.Generator``, and
gives the noise-free truth for plotting and scoring. The window's hand-made-task
sliders, plot ranges, evaluation ranges and probes are all built from the declaration.

Shapes: a batch of T tasks is ``tasks`` [T, P] (one column per declared parameter, in
declaration order); inputs and outputs are [T, N, 1].

A family may also declare ``options``: fixed settings that are not task parameters
(a kernel's length scale), each with a default and bounds; and an ``oracle``, a
prediction from a task's support points that knows the family (see :meth:`TaskFamily.oracle`),
with :meth:`TaskFamily.oracle_exact` saying when it is the best possible one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..config import TaskConfig


@dataclass(frozen=True)
class Parameter:
    """One task parameter: ``name`` (settings and CLI), ``label`` (window), default range.

    An ``integer`` parameter (a mode, a count) is drawn uniformly among the whole numbers
    of its range; a family rounds it when reading it, so any value in the range (a
    window's slider) means the nearest whole one (halves up)."""

    name: str
    label: str
    low: float
    high: float
    help: str = ""
    integer: bool = False


@dataclass(frozen=True)
class Option:
    """A fixed setting of a family (not drawn per task): ``name`` (settings and CLI),
    ``label`` (window), its ``default`` and the bounds ``low`` <= value <= ``high``."""

    name: str
    label: str
    default: float
    low: float
    high: float
    help: str = ""


@dataclass(frozen=True)
class TaskBatch:
    """T tasks, each with K support and Q query points.

    ``x_support``/``y_support`` [T, K, 1]; ``x_query``/``y_query`` [T, Q, 1]; ``tasks``
    [T, P]. ``task_index`` [T] is set when the tasks come from a fixed training pool
    (the multi-task learner), else ``None``.
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    tasks: torch.Tensor
    task_index: torch.Tensor | None = None

    @property
    def num_tasks(self) -> int:
        return self.x_support.shape[0]


def uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    # One op rather than rand, mul and add: sampling is a few percent of a meta-step.
    return torch.empty(shape).uniform_(low, high, generator=generator)


def whole_numbers(name: str, low: float, high: float) -> tuple[int, int]:
    """The first and last whole number in [low, high]; ``ValueError`` naming ``name`` if none."""
    first, last = math.ceil(low), math.floor(high)
    if first > last:
        raise ValueError(f"the {name} range [{low:g}, {high:g}] holds no whole number")
    return first, last


class TaskFamily(ABC):
    """Base of every family. Subclasses set ``name``, ``label``, ``parameters`` and
    ``x_range`` and implement :meth:`truth`; the rest has working defaults (parameters
    and inputs uniform on their ranges, Gaussian label noise)."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]]
    x_range: ClassVar[tuple[float, float]] = (-5.0, 5.0)
    options: ClassVar[tuple[Option, ...]] = ()
    #: True when :meth:`oracle` gives a standard deviation as well as a mean.
    oracle_has_std: ClassVar[bool] = False
    #: What :meth:`oracle` computes, in a few words: its name where it is not exact (a legend label).
    oracle_method: ClassVar[str] = "family's oracle"
    #: Grid points on which the window draws a task's curves (more for fast oscillations).
    plot_points: ClassVar[int] = 200

    def __init__(self, config: TaskConfig | None = None) -> None:
        config = config or TaskConfig(family=self.name)
        if config.family != self.name:
            raise ValueError(f"a {self.name} family cannot take settings of the {config.family!r} family")
        defaults = {p.name: (p.low, p.high) for p in self.parameters}
        defaults["x"] = self.x_range
        overrides = dict((name, (low, high)) for name, low, high in config.ranges)
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise ValueError(f"the {self.name} family has no parameter {', '.join(map(repr, unknown))}; "
                             f"its ranges are {', '.join(defaults)}")
        for p in self.parameters:
            if p.integer and p.name in overrides:
                whole_numbers(p.name, *overrides[p.name])
        self.ranges: dict[str, tuple[float, float]] = {**defaults, **overrides}
        self.option_values: dict[str, float] = self._option_values(config)
        # The settings with every range (and option) written out: a checkpoint holds them
        # all, so it does not depend on the defaults of a later version.
        self.config = TaskConfig(family=self.name, noise_std=config.noise_std,
                                 ranges=tuple((n, lo, hi) for n, (lo, hi) in self.ranges.items()),
                                 options=tuple(self.option_values.items()))

    def _option_values(self, config: TaskConfig) -> dict[str, float]:
        declared = {o.name: o for o in self.options}
        given = dict(config.options)
        unknown = sorted(set(given) - set(declared))
        if unknown:
            known = f"its options are {', '.join(declared)}" if declared else "it has none"
            raise ValueError(f"the {self.name} family has no option {', '.join(map(repr, unknown))}; {known}")
        for name, value in given.items():
            o = declared[name]
            if not o.low <= value <= o.high:
                raise ValueError(f"{self.name} option {name} must be between {o.low:g} and {o.high:g}, got {value:g}")
        return {o.name: float(given.get(o.name, o.default)) for o in self.options}

    @property
    def noise_std(self) -> float:
        return self.config.noise_std

    # --- what a family provides ------------------------------------------------------
    @abstractmethod
    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Noise-free y for x [T, N, 1] of tasks [T, P]; returns [T, N, 1]."""

    def sample_tasks(self, num_tasks: int, generator: torch.Generator) -> torch.Tensor:
        """Task parameters [T, P], each uniform on its range (drawn one parameter at a time;
        integer parameters uniform among the whole numbers of their range)."""
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        columns = [self._sample_integers(num_tasks, p.name, generator) if p.integer
                   else uniform((num_tasks,), *self.ranges[p.name], generator) for p in self.parameters]
        return torch.stack(columns, dim=1)

    def _sample_integers(self, num_tasks: int, name: str, generator: torch.Generator) -> torch.Tensor:
        first, last = whole_numbers(name, *self.ranges[name])
        return torch.randint(first, last + 1, (num_tasks,), generator=generator).to(torch.get_default_dtype())

    def sample_x(self, tasks: torch.Tensor, num_points: int, generator: torch.Generator) -> torch.Tensor:
        """Inputs for tasks [T, P], [T, N, 1]; uniform on the x range unless a family says otherwise."""
        if num_points < 1:
            raise ValueError(f"number of points must be >= 1, got {num_points}")
        return uniform((tasks.shape[0], num_points, 1), *self.ranges["x"], generator)

    def oracle(
        self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
        tasks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The best prediction possible at ``x_query`` [T, Q, 1] from the support points
        ``x_support``/``y_support`` [T, K, 1] of tasks drawn from this family with its
        settings: ``(mean, std)`` [T, Q, 1] each, ``std`` (including the label noise) or
        None when the family gives only a mean (:attr:`oracle_has_std`).

        A family implements it where it knows a principled answer (the Gaussian-process
        posterior; least squares on the sinusoids' own form) and says in :meth:`oracle_exact`
        when that answer is the best possible one; the default returns None: no oracle.
        ``tasks`` [T, P] may be passed but the built-in oracles ignore it: an answer read
        off the task itself would be the truth, not the best possible guess from the points."""
        return None

    @classmethod
    def has_oracle(cls) -> bool:
        """Whether this family implements :meth:`oracle`."""
        return cls.oracle is not TaskFamily.oracle

    @classmethod
    def oracle_exact(cls, shots: int, noise_std: float) -> bool:
        """Whether :meth:`oracle` from ``shots`` support points with label noise ``noise_std``
        is the Bayes-optimal prediction (the posterior mean of the truth under this family's
        prior): only then is it shown as the best possible answer, else as
        :attr:`oracle_method`. Default False: a family claims exactness only where it has
        shown it (in its docstring, and a test against an independent computation)."""
        return False

    def y_bound(self) -> float:
        """A bound on |y| over the declared ranges, for plot ranges (default: the truth of
        a few hundred tasks on a grid, so any family works without declaring it)."""
        generator = torch.Generator().manual_seed(0)
        tasks = self.sample_tasks(256, generator)
        grid = torch.linspace(*self.ranges["x"], 200).view(1, -1, 1).expand(tasks.shape[0], -1, -1)
        bound = self.truth(tasks, grid).abs().max().item()
        return bound if math.isfinite(bound) and bound > 0 else 1.0

    # --- shared behaviour ------------------------------------------------------------
    def observe(self, tasks: torch.Tensor, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Labels for x [T, N, 1]: the truth plus Gaussian noise of ``noise_std`` (if any)."""
        y = self.truth(tasks, x)
        if self.noise_std > 0:
            y = y + self.noise_std * torch.randn(y.shape, generator=generator)
        return y

    def batch_for(self, tasks: torch.Tensor, shots: int, query: int, generator: torch.Generator,
                  task_index: torch.Tensor | None = None) -> TaskBatch:
        """Support and query points for tasks [T, P]. Query points are drawn independently of
        the support points, so (with probability one) no query point is a support point."""
        x_support = self.sample_x(tasks, shots, generator)
        x_query = self.sample_x(tasks, query, generator)
        return TaskBatch(
            x_support=x_support,
            y_support=self.observe(tasks, x_support, generator),
            x_query=x_query,
            y_query=self.observe(tasks, x_query, generator),
            tasks=tasks,
            task_index=task_index,
        )

    def sample_batch(self, num_tasks: int, shots: int, query: int, generator: torch.Generator) -> TaskBatch:
        """T fresh tasks with K support and Q query points each."""
        return self.batch_for(self.sample_tasks(num_tasks, generator), shots, query, generator)


def check_family(cls) -> None:
    """Raise ``ValueError`` naming what a declared family lacks."""
    if not (isinstance(cls, type) and issubclass(cls, TaskFamily)):
        raise ValueError(f"FAMILIES must hold TaskFamily subclasses, got {cls!r}")
    for attribute in ("name", "label", "parameters"):
        if not hasattr(cls, attribute):
            raise ValueError(f"task family {cls.__name__} does not declare {attribute!r}")
    if not isinstance(cls.name, str) or not cls.name.isidentifier():
        raise ValueError(f"task family {cls.__name__}: name must be an identifier, got {cls.name!r}")
    if getattr(cls.truth, "__isabstractmethod__", False):
        raise ValueError(f"task family {cls.name!r} does not implement truth(tasks, x)")
    for p in cls.parameters:
        if not isinstance(p, Parameter) or not (math.isfinite(p.low) and math.isfinite(p.high) and p.low <= p.high):
            raise ValueError(f"task family {cls.name!r}: bad parameter {p!r}")
        if p.integer and math.ceil(p.low) > math.floor(p.high):
            raise ValueError(f"task family {cls.name!r}: integer parameter {p.name!r} has no whole number in its range")
    taken = {p.name for p in cls.parameters} | {"x"}
    for o in cls.options:
        if not (isinstance(o, Option) and o.name.isidentifier() and o.name not in taken
                and all(math.isfinite(v) for v in (o.low, o.default, o.high)) and o.low <= o.default <= o.high):
            raise ValueError(f"task family {cls.name!r}: bad option {o!r}")
        taken.add(o.name)
