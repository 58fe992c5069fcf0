"""The benchmark protocol's numbers: per-task MSE curves summarised as mean, 95%
interval and median, with diverged tasks counted apart (PROTOCOL.md).

A task whose adaptation diverges is counted, left out of the mean and interval,
and reported; the median covers all tasks. No table shows a bare nan. Diverged
means: MSE non-finite, or more than ``DIVERGENCE_FACTOR`` times both its MSE before
adaptation and the MSE of predicting zero (a fit that blew up, not one that is
merely poor; see :func:`diverged_mask`). The job that produces them is
:mod:`metaviz.jobs.evaluation`; their formats are :mod:`metaviz.report`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from .learners.base import DIVERGENCE_FACTOR


@dataclass(frozen=True)
class Curve:
    """Query MSE against adaptation steps for one K; lists have ``steps + 1`` entries."""

    shots: int
    mean: list[float]
    ci95: list[float]
    median: list[float]
    diverged: list[int]
    num_tasks: int


@dataclass(frozen=True)
class EvaluationResult:
    learner: str
    iteration: int
    steps: int
    num_tasks: int
    num_query: int
    seed: int
    lr: float | None
    task: dict
    curves: dict[int, Curve]

    def to_dict(self) -> dict:
        """JSON-safe: curve keys become strings, a non-finite value becomes None."""
        data = asdict(self)
        data["curves"] = {
            str(k): {name: [v if math.isfinite(v) else None for v in values] if isinstance(values, list) else values
                     for name, values in asdict(c).items()}
            for k, c in self.curves.items()
        }
        return data


def diverged_mask(mse: torch.Tensor, signal_power: torch.Tensor) -> torch.Tensor:
    """[n, steps + 1] bool: non-finite, or > DIVERGENCE_FACTOR x max(MSE at step 0,
    mean y^2 of the task), where ``signal_power`` [n] is the task's mean y^2."""
    reference = torch.maximum(mse[:, :1], signal_power.view(-1, 1).to(mse.dtype))
    return ~torch.isfinite(mse) | (mse > DIVERGENCE_FACTOR * reference)


def summarise(mse: torch.Tensor, shots: int, diverged: torch.Tensor | None = None) -> Curve:
    """mse [n_tasks, steps + 1] -> a :class:`Curve`; tasks flagged in ``diverged`` (same
    shape; default: the non-finite ones) are counted, not averaged."""
    mse = mse.to(torch.float64)
    ok = ~diverged_mask(mse, torch.full(mse.shape[:1], math.inf)) if diverged is None else ~diverged
    ok = ok & torch.isfinite(mse)
    count = ok.sum(dim=0)
    safe = torch.where(ok, mse, torch.zeros_like(mse))
    mean = safe.sum(dim=0) / count.clamp_min(1)
    variance = (torch.where(ok, mse - mean, torch.zeros_like(mse)) ** 2).sum(dim=0) / (count - 1).clamp_min(1)
    ci95 = 1.96 * variance.sqrt() / count.clamp_min(1).sqrt()
    # nan sorts last in torch; inf counts as large: the median is over all tasks.
    median = torch.nan_to_num(mse, nan=float("inf")).median(dim=0).values
    no_finite = count == 0
    mean = torch.where(no_finite, torch.full_like(mean, float("inf")), mean)
    return Curve(
        shots=shots,
        mean=mean.tolist(),
        ci95=ci95.tolist(),
        median=median.tolist(),
        diverged=(mse.shape[0] - count).tolist(),
        num_tasks=mse.shape[0],
    )
