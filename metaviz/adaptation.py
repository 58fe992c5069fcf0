"""What a task plot shows: one task's truth and a learner's fit after 0..k steps.

Qt-free, so tests and exports use exactly the numbers that are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .learners.base import Learner
from .task_history import TaskSample

GRID_POINTS = 200


@dataclass(frozen=True)
class AdaptationView:
    """Curves over a dense grid of N points.

    ``x``, ``truth``: [N]; ``trajectory``: [steps + 1, N] (row 0 = before adaptation,
    row k = after k steps); ``pre_mse``/``post_mse``: MSE against the truth on the grid.
    """

    x: np.ndarray
    truth: np.ndarray
    trajectory: np.ndarray
    pre_mse: float
    post_mse: float

    @property
    def pre(self) -> np.ndarray:
        return self.trajectory[0]

    @property
    def post(self) -> np.ndarray:
        return self.trajectory[-1]


def grid_for(x_min: float, x_max: float) -> np.ndarray:
    return np.linspace(x_min, x_max, GRID_POINTS, dtype=np.float32)


def adapt_view(learner: Learner, sample: TaskSample, steps: int, lr: float) -> AdaptationView:
    """Adapt ``learner`` (unchanged: adaptation is pure) to the sample's support points."""
    x = grid_for(*sample.family.ranges["x"])
    x_grid = torch.from_numpy(x).view(1, -1, 1)
    x_support = torch.as_tensor(sample.x_support, dtype=torch.float32).view(1, -1, 1)
    y_support = torch.as_tensor(sample.y_support, dtype=torch.float32).view(1, -1, 1)
    with torch.no_grad():
        trajectory = learner.adapt_trajectory(x_support, y_support, x_grid, steps, lr)
    trajectory = trajectory.detach().reshape(steps + 1, -1).numpy().astype(np.float64)
    truth = sample.truth(x)
    with np.errstate(over="ignore", invalid="ignore"):
        mse = ((trajectory - truth) ** 2).mean(axis=1)
    return AdaptationView(x=x.astype(np.float64), truth=truth, trajectory=trajectory,
                          pre_mse=float(mse[0]), post_mse=float(mse[-1]))
