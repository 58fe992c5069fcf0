"""CAVIA (Zintgraf et al. 2019): fast context adaptation. A few context inputs beside x,
reset to zero for each task, are the only thing the inner loop adapts."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import Params, expand_for_tasks, forward, init_params, layer_sizes, param_names
from ..tasks import TaskBatch
from .inner_loop import descend, descent_trajectory
from .network import NetworkLearner
from .registry import LearnerSpec


class CAVIA(NetworkLearner):
    """The network reads [x, c]: x [1] and a context c [``context_size``], so the first
    layer's weight is [1 + context_size, width] (x's row first). The weights are shared
    by all tasks and meta-learned; each task starts from c = 0 and takes inner SGD
    steps on c alone, at training and at test time (the paper's regression setup:
    5 context inputs, inner lr 1, one inner step, 40-40 hidden)."""

    def __init__(self, config, context_size: int = 5) -> None:
        if isinstance(context_size, bool) or not isinstance(context_size, int) or not 1 <= context_size <= 1024:
            raise ValueError(f"context_size must be an integer between 1 and 1024, got {context_size!r}")
        self.context_size = context_size
        super().__init__(config)

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        # nn.Linear's init for the wider first layer, as the paper's model has.
        sizes = (1 + self.context_size, *layer_sizes(self.config.hidden)[1:])
        return dict(zip(param_names(sizes), init_params(sizes, generator)))

    def network(self, params: Params, context: torch.Tensor) -> Params:
        """Batched weights of the x -> y network of each task, given its context [T, 1, C].

        Feeding [x, c] to the first layer equals feeding x alone with c @ W_c added to the
        first bias: one [1, C] x [C, width] product per task instead of a wider input.
        """
        num_tasks = context.shape[0]
        weight, bias, *rest = params
        first = [weight[:1].expand(num_tasks, 1, -1), bias + context @ weight[1:]]
        return first + expand_for_tasks(rest, num_tasks)

    def zero_context(self, num_tasks: int) -> torch.Tensor:
        """Every task's starting context: zeros [T, 1, C]."""
        return torch.zeros(num_tasks, 1, self.context_size, dtype=self.params[0].dtype, device=self.params[0].device)

    def _support_loss(self, params: Params, x_support: torch.Tensor, y_support: torch.Tensor):
        """The inner objective of contexts [[T, 1, C]]: the sum over tasks of each task's
        support MSE (tasks share no context, so its gradient is every task's own)."""
        shots = x_support.shape[1]
        return lambda fast: F.mse_loss(forward(self.network(params, fast[0]), x_support), y_support,
                                       reduction="sum") / shots

    def adapted_context(self, x_support, y_support, steps, lr=None) -> torch.Tensor:
        """The contexts [T, C] after ``steps`` test-time SGD steps from zero (first order;
        parameters untouched). x_support, y_support: [T, K, 1]."""
        rate = self.default_adapt_lr(x_support.shape[1]) if lr is None else lr
        context = self.zero_context(x_support.shape[0])
        if x_support.shape[1] and steps:
            params = [p.detach() for p in self.params]
            with torch.enable_grad():
                *_, (fast, _) = descend([context.requires_grad_()], self._support_loss(params, x_support, y_support),
                                        rate, steps, create_graph=False)
            context = fast[0]
        return context.detach()[:, 0]

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean query loss after the contexts' inner steps, second order w.r.t. the weights."""
        start = [self.zero_context(batch.num_tasks).requires_grad_()]
        trajectory = list(descend(start, self._support_loss(self.params, batch.x_support, batch.y_support),
                                  self.inner_lr, self.config.inner_steps, create_graph=True))
        context, pre_support_loss = trajectory[-1][0][0], trajectory[0][1]
        loss = F.mse_loss(forward(self.network(self.params, context), batch.x_query), batch.y_query)
        return loss, {"loss": loss.item(), "pre_loss": pre_support_loss.item() / batch.num_tasks}

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        rate = self.default_adapt_lr(x_support.shape[1]) if lr is None else lr
        params = [p.detach() for p in self.params]
        zero = self.zero_context(x_support.shape[0])

        def predict(fast: Params) -> torch.Tensor:
            return forward(self.network(params, fast[0]), x_query)

        if x_support.shape[1] == 0:  # no support points: the context stays at zero
            with torch.no_grad():
                return predict([zero]).unsqueeze(0).repeat(steps + 1, 1, 1, 1)
        return descent_trajectory([zero], self._support_loss(params, x_support, y_support), predict, steps, rate)

    def default_adapt_lr(self, shots: int) -> float:
        return self.inner_lr


LEARNERS = (
    LearnerSpec("cavia", "CAVIA", "#8C564B", CAVIA, uses=frozenset({"inner_lr", "inner_steps", "adapt_lr"}),
                options={"context_size": 5}, defaults={"inner_lr": 1.0, "iterations": 5000},
                description="Fast context adaptation (Zintgraf et al. 2019): 5 context inputs beside x, reset "
                            "to zero per task, are all the inner loop adapts; the weights are shared.", step_ms=0.9),
)
