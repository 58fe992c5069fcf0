"""The benchmark protocol of PROTOCOL.md, applied to any learner.

600 held-out tasks from a generator seeded apart from training; for each K in
{5, 10, 20}, K support points and 100 query points drawn uniformly on the x range
(independently, so never the support points); MSE on the queries after 0..10
adaptation steps; mean and 95% interval (1.96 std / sqrt(n)). The same tasks and
query points serve every K, so the K columns are comparable.

A task whose adaptation diverges is counted, left out of the mean and interval,
and reported; the median covers all tasks. No table shows a bare nan. Diverged
means: MSE non-finite, or more than ``DIVERGENCE_FACTOR`` times both its MSE before
adaptation and the MSE of predicting zero (a fit that blew up, not one that is
merely poor; see :func:`diverged_mask`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from .config import TaskConfig
from .learners.base import DIVERGENCE_FACTOR, Learner
from .nets import trajectory_mse
from .tasks import SinusoidFamily, make_generator

EVAL_SEED = 20_170_703  # the evaluation stream; training seeds are small integers


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


def evaluate(
    learner: Learner,
    shots: Sequence[int] = (5, 10, 20),
    steps: int = 10,
    num_tasks: int = 600,
    seed: int = EVAL_SEED,
    lr: float | None = None,
    task: TaskConfig | None = None,
    num_query: int = 100,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> EvaluationResult | None:
    """Run the protocol; ``task`` overrides the learner's ranges (out-of-distribution probes).

    ``lr=None`` uses each learner's default test-time rate for each K. ``progress(done,
    total)`` is called after each K; if ``cancelled()`` turns true, returns None.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if num_tasks < 2:
        raise ValueError(f"tasks must be >= 2 to form an interval, got {num_tasks}")
    for k in shots:
        if k < 1:
            raise ValueError(f"shots must be >= 1, got {k}")
    family = SinusoidFamily(task) if task is not None else learner.family
    generator = make_generator(seed)
    amplitude, phase = family.sample_tasks(num_tasks, generator)
    x_query = family.sample_x(num_tasks, num_query, generator)
    y_query = family.truth(amplitude, phase, x_query)  # scored against the noise-free truth
    curves: dict[int, Curve] = {}
    for done, k in enumerate(shots, start=1):
        if cancelled is not None and cancelled():
            return None
        support_gen = make_generator(seed + 1 + k)
        x_support = family.sample_x(num_tasks, k, support_gen)
        y_support = family.observe(amplitude, phase, x_support, support_gen)
        predictions = learner.adapt_trajectory(x_support, y_support, x_query, steps, lr)
        mse = trajectory_mse(predictions, y_query)  # [n, steps+1]
        curves[k] = summarise(mse, k, diverged_mask(mse, y_query.pow(2).mean(dim=(1, 2))))
        if progress is not None:
            progress(done, len(shots))
    return EvaluationResult(
        learner=learner.kind,
        iteration=learner.iteration,
        steps=steps,
        num_tasks=num_tasks,
        num_query=num_query,
        seed=seed,
        lr=lr,
        task=asdict(family.config),
        curves=curves,
    )


def format_number(value: float) -> str:
    """Four decimals, or three significant digits for values too small for that."""
    return f"{value:.4f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}"


def format_table(result: EvaluationResult, shown_steps: Sequence[int] = (0, 1, 5, 10)) -> str:
    """A plain-text table: one row per K, mean +/- CI at the chosen steps (and always the
    last), divergences noted below it."""
    shown = sorted({s for s in shown_steps if s <= result.steps} | {result.steps})
    header = f"{'K':>3}  " + "  ".join(f"{f'step {s}':>20}" for s in shown)
    protocol = (f"{result.num_tasks} held-out tasks (seed {result.seed}), {result.num_query} query points, "
                f"query MSE mean \u00b1 95% CI (1.96 sd/\u221an)")
    lines = [f"{result.learner} after {result.iteration} iterations; {protocol}", header]
    notes = []
    for k, curve in result.curves.items():
        cells = []
        for s in shown:
            cells.append(f"{format_number(curve.mean[s]):>9} \u00b1 {format_number(curve.ci95[s]):<8}")
            if curve.diverged[s]:
                notes.append(
                    f"K={k}, step {s}: {curve.diverged[s]} of {curve.num_tasks} tasks diverged "
                    f"(left out of the mean; median over all tasks {curve.median[s]:.4g})"
                )
        lines.append(f"{k:>3}  " + "  ".join(cells))
    return "\n".join(lines + notes)


def format_markdown(
    results: Sequence[EvaluationResult],
    columns: Sequence[tuple[int, int]] = ((5, 1), (5, 10), (10, 1), (10, 10), (20, 1), (20, 10)),
    notes: dict[str, str] | None = None,
) -> str:
    """A Markdown table: one row per result (mean +/- CI at each (K, steps) column),
    followed by the published rows of :mod:`metaviz.published` for comparison.
    ``notes`` adds text after a learner's name (e.g. its budget and wall time)."""
    from .published import PUBLISHED

    notes = notes or {}
    header = "| method | source | " + " | ".join(f"K={k}, {s} step{'s' if s > 1 else ''}" for k, s in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 2)]
    for result in results:
        cells = []
        for k, s in columns:
            curve = result.curves.get(k)
            if curve is None or s > result.steps:
                cells.append("-")
                continue
            cell = f"{format_number(curve.mean[s])} \u00b1 {format_number(curve.ci95[s])}"
            if curve.diverged[s]:
                cell += f" ({curve.diverged[s]} diverged)"
            cells.append(cell)
        source = f"metaviz, {result.iteration} it." + (f", {notes[result.learner]}" if result.learner in notes else "")
        lines.append(f"| {result.learner} | {source} | " + " | ".join(cells) + " |")
    for row in PUBLISHED:
        cells = []
        for key in columns:
            value = row.mse.get(key)
            cells.append("-" if value is None else f"{value[0]:g}" + (f" \u00b1 {value[1]:g}" if value[1] else ""))
        lines.append(f"| {row.method} | {row.source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
