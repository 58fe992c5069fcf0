"""Reptile (Nichol, Achiam & Schulman 2018): first-order meta-learning by moving the
initialisation towards the weights that SGD on each task reaches."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import forward
from ..tasks import TaskBatch
from .inner_loop import sgd_steps
from .network import NetworkLearner
from .registry import LearnerSpec


class Reptile(NetworkLearner):
    """Each task takes ``inner_steps`` full-batch SGD steps at ``inner_lr`` from theta on
    all of its points (support and query: Reptile has no inner/outer split), reaching
    phi_t. The outer move is theta <- theta + epsilon * mean_t(phi_t - theta).

    The move is made through the common meta-step: :meth:`training_loss` returns a
    surrogate whose gradient is exactly theta - mean_t phi_t, so a plain SGD step of
    size epsilon is the paper's update, and the Adam every learner uses here is the
    variant OpenAI's Reptile post suggests (treat the difference as a gradient and plug
    it into an optimiser like Adam); learn2learn's Reptile example sets the same
    pseudo-gradient and steps it with SGD."""

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat([batch.x_support, batch.x_query], dim=1)
        y = torch.cat([batch.y_support, batch.y_query], dim=1)
        # First order by construction: the tasks adapt detached copies.
        start = [p.detach().unsqueeze(0).expand(batch.num_tasks, *p.shape).requires_grad_() for p in self.params]
        trajectory = list(sgd_steps(start, x, y, self.inner_lr, self.config.inner_steps, create_graph=False))
        phi, pre_loss = trajectory[-1][0], trajectory[0][1]
        with torch.no_grad():
            direction = [p - w.mean(dim=0) for p, w in zip(self.params, phi)]  # theta - mean_t phi_t
            adapted_loss = F.mse_loss(forward(phi, x), y)
        # d/d theta of sum(theta * direction) = direction, exactly.
        surrogate = sum((p * d).sum() for p, d in zip(self.params, direction))
        # loss: each task's MSE on its points after its inner steps (mean over tasks);
        # pre_loss: the same before them.
        return surrogate, {"loss": adapted_loss.item(), "pre_loss": pre_loss.item() / batch.num_tasks}

    def default_adapt_lr(self, shots: int) -> float:
        return self.inner_lr


LEARNERS = (
    LearnerSpec("reptile", "Reptile", "#E7298A", Reptile, uses=frozenset({"inner_lr", "inner_steps", "adapt_lr"}),
                defaults={"inner_steps": 5, "iterations": 5000},
                description="Reptile (Nichol et al. 2018): first order; moves the initialisation towards the "
                            "weights k SGD steps on each task reach.", step_ms=1.5),
)
