"""The naive baseline: one network regressed on all tasks, fine-tuned at test time."""

from __future__ import annotations

import torch

from ..nets import expand_for_tasks, forward, per_task_mse
from ..tasks import TaskBatch
from .network import NetworkLearner
from .registry import LearnerSpec


class Pretrained(NetworkLearner):
    """Minimises the MSE over points of random tasks, as a plain training loop would.

    It converges towards the mean function E[y | x] = -(2/pi) E[A] cos x, which no
    few SGD steps can bend into a given sinusoid: that is what the explorer shows.
    """

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat([batch.x_support, batch.x_query], dim=1).reshape(1, -1, 1)
        y = torch.cat([batch.y_support, batch.y_query], dim=1).reshape(1, -1, 1)
        loss = per_task_mse(forward(expand_for_tasks(self.params, 1), x), y).mean()
        return loss, {"loss": loss.item()}

    def default_adapt_lr(self, shots: int) -> float:
        # The paper's tuned fine-tuning rates (PROTOCOL.md): 0.01 for K=5, 0.02 for K>=10.
        return 0.01 if shots <= 5 else 0.02


LEARNERS = (
    LearnerSpec("pretrained", "pretrained", "#D55E00", Pretrained, uses=frozenset({"adapt_lr"}),
                defaults={"iterations": 3000, "meta_lr": 3e-3},
                description="The naive baseline: one network regressed on all tasks (it learns the mean "
                            "curve), fine-tuned by SGD on the support points.", step_ms=0.35),
)
