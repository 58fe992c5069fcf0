"""ANIL (Raghu et al. 2020): MAML whose inner loop adapts only the last layer."""

from __future__ import annotations

import torch

from ..nets import expand_for_tasks, features
from ..tasks import TaskBatch
from .inner_loop import adapted_query_loss, sgd_trajectory
from .network import NetworkLearner
from .registry import LearnerSpec


class ANIL(NetworkLearner):
    """Almost No Inner Loop: the trunk (every layer but the last) is meta-learned and
    stays fixed while a task adapts; only the linear head takes the inner SGD steps,
    at training and at test time. The meta-gradient is second order through the head's
    steps, and reaches the trunk through the features both the support and the query
    points pass through."""

    @property
    def trunk(self) -> list[torch.Tensor]:
        return self.params[:-2]

    @property
    def head(self) -> list[torch.Tensor]:
        """The output layer: weight [width, 1] and bias [1, 1]."""
        return self.params[-2:]

    def _features(self, trunk: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Trunk activations [T, N, width] of x [T, N, 1]."""
        return features(expand_for_tasks(trunk, x.shape[0]), x)

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean query loss after the head's inner steps; differentiable w.r.t. trunk and head."""
        shots = batch.x_support.shape[1]
        # One trunk pass for support and query points: a head on features is a linear model,
        # so the inner loop is MAML's on (features, y) with a one-layer "network".
        phi = self._features(self.trunk, torch.cat([batch.x_support, batch.x_query], dim=1))
        start = expand_for_tasks(self.head, batch.num_tasks)
        return adapted_query_loss(start, phi[:, :shots], batch.y_support, phi[:, shots:], batch.y_query,
                                  self.inner_lr, self.config.inner_steps)

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        """Only the head moves: the trunk's features are computed once, without a graph."""
        rate = self.default_adapt_lr(x_support.shape[1]) if lr is None else lr
        trunk = [p.detach() for p in self.trunk]
        with torch.no_grad():
            phi_support, phi_query = self._features(trunk, x_support), self._features(trunk, x_query)
        return sgd_trajectory(self.head, phi_support, y_support, phi_query, steps, rate)

    def default_adapt_lr(self, shots: int) -> float:
        return self.inner_lr


LEARNERS = (
    LearnerSpec("anil", "ANIL", "#BCBD22", ANIL, uses=frozenset({"inner_lr", "inner_steps", "adapt_lr"}),
                description="Almost No Inner Loop (Raghu et al. 2020): MAML whose inner loop adapts only the "
                            "last layer; the trunk is meta-learned and stays fixed on a new task.", step_ms=0.56),
)
