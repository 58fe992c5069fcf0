"""What a task plot shows: one task's truth, a learner's fit after 0..k steps, its
predictive band and function samples where it has them, and the best possible answer.

Qt-free, so tests and exports use exactly the numbers that are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .learners.base import Learner
from .oracle import oracle_name
from .samples import function_samples, has_function_samples
from .streams import Stream, stream
from .task_history import TaskSample
from .tasks import TaskFamily

SAMPLE_COUNT = 5  # function samples drawn on the "Show function samples" toggle


@dataclass(frozen=True)
class AdaptationView:
    """Curves over a dense grid of N points.

    ``x``, ``truth``: [N] (the truth is nan where a drawn task has no curve); ``trajectory``:
    [steps + 1, N] (row 0 = before adaptation, row k = after k steps); ``pre_mse``/``post_mse``:
    MSE against the truth on the grid (where it is defined). For a learner with a predictive
    distribution, ``mean``/``std`` [N] (the std includes the label noise); for one with a
    joint posterior and samples asked for, ``samples`` [S, N] (functions, without noise).
    ``note``: why the curve does not move with the steps ("" for a gradient-based learner).
    """

    x: np.ndarray
    truth: np.ndarray
    trajectory: np.ndarray
    pre_mse: float
    post_mse: float
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    samples: np.ndarray | None = None
    note: str = ""

    @property
    def pre(self) -> np.ndarray:
        return self.trajectory[0]

    @property
    def post(self) -> np.ndarray:
        return self.trajectory[-1]


@dataclass(frozen=True)
class OracleView:
    """The family's oracle from the support points: ``mean`` [N], ``std`` [N] or None (a
    family whose oracle gives no spread), ``mse`` against the truth on the grid, and ``name``,
    what it is for these points (:func:`~metaviz.oracle.oracle_name`: "best possible" only
    where the family declares it exact for this K and label noise)."""

    mean: np.ndarray
    std: np.ndarray | None
    mse: float
    name: str


def grid_for(family: TaskFamily) -> np.ndarray:
    """The family's x range in ``family.plot_points`` points (float64)."""
    x_min, x_max = family.ranges["x"]
    return np.linspace(x_min, x_max, family.plot_points)


def steps_note(learner) -> str:
    """Why ``learner``'s curve is flat over steps, from its declaration ("" if it takes
    gradient steps)."""
    if getattr(learner, "gradient_steps", True):
        return ""
    return getattr(learner, "steps_note", "") or "no gradient steps"


def mse_on_truth(predictions: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """MSE [...] of predictions [..., N] against truth [N] where the truth is defined
    (a nan prediction, a diverged fit, stays nan)."""
    known = np.isfinite(truth)
    with np.errstate(over="ignore", invalid="ignore"):
        return ((predictions[..., known] - truth[known]) ** 2).mean(axis=-1)


def _points(values: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """[N] -> [1, N, 1]."""
    return torch.as_tensor(np.asarray(values), dtype=dtype).view(1, -1, 1)


def adapt_view(learner: Learner, sample: TaskSample, steps: int, lr: float | None,
               samples: int = 0) -> AdaptationView:
    """Adapt ``learner`` (unchanged: adaptation is pure) to the sample's support points;
    with ``samples`` > 0, that many function samples where the learner has a joint posterior
    (drawn from a fixed stream, so they move smoothly as the learner or the points change)."""
    x = grid_for(sample.family)
    x_grid = _points(x, torch.float32)
    x_support, y_support = _points(sample.x_support, torch.float32), _points(sample.y_support, torch.float32)
    with torch.no_grad():
        trajectory = learner.adapt_trajectory(x_support, y_support, x_grid, steps, lr)
    trajectory = trajectory.detach().reshape(steps + 1, -1).numpy().astype(np.float64)
    truth = sample.truth(x)
    mse = mse_on_truth(trajectory, truth)
    mean = std = drawn = None
    if getattr(learner, "has_predictive", False):
        with torch.no_grad():
            mean, std = (t.reshape(-1).numpy().astype(np.float64) for t in learner.predictive(x_support, y_support,
                                                                                                x_grid))
    if samples > 0 and has_function_samples(learner):
        generator = stream(Stream.WINDOW_FUNCTION_SAMPLES, 0)
        drawn = function_samples(learner, x_support, y_support, x_grid, samples, generator)
        drawn = drawn.reshape(samples, -1).numpy()
    return AdaptationView(x=x, truth=truth, trajectory=trajectory, pre_mse=float(mse[0]), post_mse=float(mse[-1]),
                          mean=mean, std=std, samples=drawn, note=steps_note(learner))


def oracle_available(sample: TaskSample) -> str:
    """"" when the best possible answer can be drawn for ``sample``; else why not."""
    if sample.drawn is not None:
        return "a drawn task is not a draw from the family: no best possible answer is known for it"
    if not sample.family.has_oracle():
        return f"no exact best possible answer is known for the {sample.family.label} family"
    if sample.shots == 0:
        return "add a point: the best possible answer is computed from the points"
    return ""


def oracle_view(sample: TaskSample, x: np.ndarray | None = None) -> OracleView | None:
    """The family's exact oracle from the sample's support points on the grid ``x`` (default
    the family's plot grid), in float64; None where :func:`oracle_available` says why not."""
    if oracle_available(sample):
        return None
    x = grid_for(sample.family) if x is None else np.asarray(x, dtype=np.float64)
    with torch.no_grad():
        mean, std = sample.family.oracle(_points(sample.x_support, torch.float64),
                                         _points(sample.y_support, torch.float64), _points(x, torch.float64))
    mean = mean.reshape(-1).numpy().astype(np.float64)
    std = None if std is None else std.reshape(-1).numpy().astype(np.float64)
    return OracleView(mean=mean, std=std, mse=float(mse_on_truth(mean, sample.truth(x))),
                      name=oracle_name(sample.family, sample.shots, sample.family.noise_std))
