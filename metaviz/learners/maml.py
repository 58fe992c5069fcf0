"""MAML (Finn et al. 2017), second- and first-order, batched over the task dimension."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import expand_for_tasks, forward
from ..tasks import TaskBatch
from .inner_loop import sgd_steps
from .network import NetworkLearner
from .registry import LearnerSpec


class MAML(NetworkLearner):
    """Meta-learns an initialisation from which ``inner_steps`` SGD steps at ``inner_lr``
    fit a new task. ``first_order`` drops the second-order term (the inner gradient is
    treated as a constant)."""

    def __init__(self, config, first_order: bool = False) -> None:
        self.first_order = first_order
        super().__init__(config)

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean query loss after the inner loop, differentiable w.r.t. the meta-parameters."""
        start = expand_for_tasks(self.params, batch.num_tasks)
        steps = list(sgd_steps(start, batch.x_support, batch.y_support, self.inner_lr,
                               self.config.inner_steps, create_graph=not self.first_order))
        fast, pre_support_loss = steps[-1][0], steps[0][1]
        # The mean over tasks of each task's mean query loss (all tasks have Q points).
        loss = F.mse_loss(forward(fast, batch.x_query), batch.y_query)
        # pre_loss: the support loss before adaptation, the scale a blown-up inner step is judged by.
        return loss, {"loss": loss.item(), "pre_loss": pre_support_loss.item() / batch.num_tasks}

    def default_adapt_lr(self, shots: int) -> float:
        return self.inner_lr


_MAML_SETTINGS = frozenset({"inner_lr", "inner_steps", "adapt_lr"})
LEARNERS = (
    LearnerSpec("maml", "MAML", "#0072B2", MAML, uses=_MAML_SETTINGS,
                description="Model-Agnostic Meta-Learning (Finn et al. 2017): an initialisation that "
                            "k SGD steps adapt to a new task; second-order meta-gradient."),
    LearnerSpec("fomaml", "first-order MAML", "#56B4E9", MAML, uses=_MAML_SETTINGS, options={"first_order": True},
                description="MAML with the inner gradient treated as constant: no second derivatives."),
)
