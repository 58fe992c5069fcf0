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
from dataclasses import asdict, dataclass, replace

import torch

from .learners.divergence import DIVERGENCE_FACTOR


@dataclass(frozen=True)
class Curve:
    """Query MSE against adaptation steps for one K; lists have ``steps + 1`` entries.

    For a learner with a predictive distribution, after full adaptation: ``nll`` the mean
    over tasks of each task's mean negative log-likelihood of its query targets, and
    ``coverage`` the mean fraction of query targets inside mean +- 1.96 std, each with its
    95% interval over tasks (``*_ci95``). None for learners without one.
    """

    shots: int
    mean: list[float]
    ci95: list[float]
    median: list[float]
    diverged: list[int]
    num_tasks: int
    nll: float | None = None
    nll_ci95: float | None = None
    coverage: float | None = None
    coverage_ci95: float | None = None


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
        data["curves"] = {str(k): {name: _json_safe(values) for name, values in asdict(c).items()}
                          for k, c in self.curves.items()}
        return data


def _json_safe(value):
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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


INTERVAL_Z = 1.96  # the central 95% interval of a Gaussian: mean +- 1.96 std


def interval_coverage(mean: torch.Tensor, std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of each task's targets inside mean +- 1.96 std: each [T, N, 1] -> [T]."""
    inside = (target - mean).abs() <= INTERVAL_Z * std
    return inside.to(torch.float64).mean(dim=(1, 2))


def mean_ci95(values: torch.Tensor) -> tuple[float, float]:
    """Mean of per-task values [n] and its 95% interval 1.96 sd / sqrt(n). A non-finite
    value makes the mean non-finite: shown as such, never averaged away."""
    values = values.to(torch.float64)
    sd = values.std() if values.numel() > 1 else torch.zeros(())
    return values.mean().item(), (INTERVAL_Z * sd / values.numel() ** 0.5).item()


def with_predictive(curve: Curve, nll: torch.Tensor, coverage: torch.Tensor) -> Curve:
    """``curve`` with the NLL and coverage summaries of per-task values [n] each."""
    nll_mean, nll_ci95 = mean_ci95(nll)
    coverage_mean, coverage_ci95 = mean_ci95(coverage)
    return replace(curve, nll=nll_mean, nll_ci95=nll_ci95, coverage=coverage_mean, coverage_ci95=coverage_ci95)
