"""Meta-SGD (Li et al. 2017): MAML with a learned per-parameter inner learning rate."""

from __future__ import annotations

import torch

from ..nets import expand_for_tasks
from ..tasks import TaskBatch
from .inner_loop import adapted_query_loss, sgd_trajectory
from .network import NetworkLearner
from .registry import LearnerSpec

RATE_PREFIX = "rate."


class MetaSGD(NetworkLearner):
    """Meta-learns an initialisation *and* one inner step size per weight: the inner
    step is w - alpha * g elementwise, alpha a tensor of w's shape, initialised to
    ``inner_lr`` and meta-trained with the weights by the same Adam (rates may turn
    negative: the paper does not constrain them either).

    Test time uses the learned rates; an ``lr`` given to :meth:`adapt_trajectory` is a
    multiplier on them (the default, 1, is the rates as learned). The live ``inner_lr``
    is not read after construction: the rates replace it.
    """

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        weights = super().init_tensors(generator)  # the same draws as MAML's for a seed
        rates = {RATE_PREFIX + name: torch.full_like(w, self.config.inner_lr).requires_grad_()
                 for name, w in weights.items()}
        return {**weights, **rates}

    @property
    def params(self) -> list[torch.Tensor]:
        """The network's weights (what the inner loop adapts), without the rates."""
        return [t for name, t in self.tensors.items() if not name.startswith(RATE_PREFIX)]

    @property
    def rates(self) -> list[torch.Tensor]:
        """One learned step size per weight, each in its weight's (unbatched) shape."""
        return [t for name, t in self.tensors.items() if name.startswith(RATE_PREFIX)]

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean query loss after the inner loop; differentiable w.r.t. weights and rates."""
        start = expand_for_tasks(self.params, batch.num_tasks)
        return adapted_query_loss(start, batch.x_support, batch.y_support, batch.x_query, batch.y_query,
                                  self.rates, self.config.inner_steps)

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        scale = self.default_adapt_lr(x_support.shape[1]) if lr is None else lr
        rates = [r.detach() * scale for r in self.rates]
        return sgd_trajectory(self.params, x_support, y_support, x_query, steps, rates)

    def default_adapt_lr(self, shots: int) -> float:
        return 1.0  # a multiplier on the learned rates


LEARNERS = (
    LearnerSpec("metasgd", "Meta-SGD", "#7F3C8D", MetaSGD, uses=frozenset({"inner_steps", "adapt_lr"}),
                defaults={"iterations": 5000},
                description="Meta-SGD (Li et al. 2017): MAML that also meta-learns one inner step size per "
                            "weight; adapt lr multiplies the learned rates.", step_ms=0.95),
)
