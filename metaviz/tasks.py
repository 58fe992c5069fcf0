"""The sinusoid task family, y = A sin(x - phase), sampled in batches from an explicit generator.

No function here touches torch's global RNG: every draw takes a ``torch.Generator``,
so a seed reproduces a run exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import TaskConfig


@dataclass(frozen=True)
class TaskBatch:
    """T tasks, each with K support and Q query points.

    Shapes: ``x_support``/``y_support`` [T, K, 1]; ``x_query``/``y_query`` [T, Q, 1];
    ``amplitude``/``phase`` [T]. ``task_index`` [T] is set when the tasks come from a
    fixed training pool (the multi-task learner), else ``None``.
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    amplitude: torch.Tensor
    phase: torch.Tensor
    task_index: torch.Tensor | None = None

    @property
    def num_tasks(self) -> int:
        return self.x_support.shape[0]


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    # One op rather than rand, mul and add: sampling is a few percent of a meta-step.
    return torch.empty(shape).uniform_(low, high, generator=generator)


class SinusoidFamily:
    """Draws tasks (amplitude, phase) and points from the ranges of a :class:`TaskConfig`."""

    def __init__(self, config: TaskConfig | None = None) -> None:
        self.config = config or TaskConfig()

    def truth(self, amplitude: torch.Tensor, phase: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Noise-free y for x [T, N, 1] given amplitude, phase [T]; returns [T, N, 1]."""
        return amplitude.view(-1, 1, 1) * torch.sin(x - phase.view(-1, 1, 1))

    def sample_tasks(self, num_tasks: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Amplitude and phase, each [T]."""
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        c = self.config
        amplitude = _uniform((num_tasks,), c.amp_min, c.amp_max, generator)
        phase = _uniform((num_tasks,), c.phase_min, c.phase_max, generator)
        return amplitude, phase

    def sample_x(self, num_tasks: int, num_points: int, generator: torch.Generator) -> torch.Tensor:
        """Inputs drawn uniformly on the x range, [T, N, 1]."""
        if num_points < 1:
            raise ValueError(f"number of points must be >= 1, got {num_points}")
        return _uniform((num_tasks, num_points, 1), self.config.x_min, self.config.x_max, generator)

    def observe(
        self, amplitude: torch.Tensor, phase: torch.Tensor, x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Labels for x [T, N, 1]: the truth plus Gaussian noise of ``noise_std`` (if any)."""
        y = self.truth(amplitude, phase, x)
        if self.config.noise_std > 0:
            y = y + self.config.noise_std * torch.randn(y.shape, generator=generator)
        return y

    def batch_for(
        self,
        amplitude: torch.Tensor,
        phase: torch.Tensor,
        shots: int,
        query: int,
        generator: torch.Generator,
        task_index: torch.Tensor | None = None,
    ) -> TaskBatch:
        """Support and query points for the given tasks (amplitude, phase [T]).

        Query points are drawn independently of the support points, so (with
        probability one) no query point is a support point.
        """
        num_tasks = amplitude.shape[0]
        x_support = self.sample_x(num_tasks, shots, generator)
        x_query = self.sample_x(num_tasks, query, generator)
        return TaskBatch(
            x_support=x_support,
            y_support=self.observe(amplitude, phase, x_support, generator),
            x_query=x_query,
            y_query=self.observe(amplitude, phase, x_query, generator),
            amplitude=amplitude,
            phase=phase,
            task_index=task_index,
        )

    def sample_batch(self, num_tasks: int, shots: int, query: int, generator: torch.Generator) -> TaskBatch:
        """T fresh tasks with K support and Q query points each."""
        amplitude, phase = self.sample_tasks(num_tasks, generator)
        return self.batch_for(amplitude, phase, shots, query, generator)


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (kept explicit so runs never share RNG state)."""
    return torch.Generator().manual_seed(int(seed))
