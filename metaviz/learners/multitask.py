"""Shared-feature multi-task model: one trunk, one linear head per training task.

Training minimises sum_t L_t(head_t(trunk(x_t))) jointly over the trunk and the
heads of a fixed pool of training tasks. A new task keeps the trunk and fits only a
new head, under the prior that the training heads define (:mod:`.head_prior`).
"""

from __future__ import annotations

import math

import torch

from ..nets import features_with_constant, init_params, layer_sizes, param_names
from ..streams import Stream, stream
from ..tasks import TaskBatch
from .base import Learner
from .head_prior import HeadPrior, head_trajectory, posterior_head, predictive_variance
from .registry import LearnerSpec


class MultiTask(Learner):
    """Trunk = the MLP without its output layer (1-40-40); heads [P, 41] (40 weights + bias).

    Its predictive distribution is the head posterior under the empirical prior."""

    has_predictive = True

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        c = self.config
        trunk_sizes = layer_sizes(c.hidden)[:-1]
        tensors = dict(zip(param_names(trunk_sizes), init_params(trunk_sizes, generator)))
        width = c.hidden[-1]
        bound = 1.0 / math.sqrt(width)
        heads = (torch.rand((c.pool_size, width + 1), generator=generator) * 2 - 1) * bound
        tensors["heads"] = heads.requires_grad_()
        # The pool is drawn from its own stream, seeded apart from the batches.
        self.pool = self.family.sample_tasks(c.pool_size, stream(Stream.MULTITASK_POOL, c.seed))  # [P, params]
        self._prior: HeadPrior | None = None
        return tensors

    @property
    def trunk(self) -> list[torch.Tensor]:
        return [t for name, t in self.tensors.items() if name != "heads"]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Trunk features plus a constant 1: x [T, N, 1] -> phi [T, N, width + 1]."""
        return features_with_constant(self.trunk, x)

    def sample_batch(self, generator: torch.Generator) -> TaskBatch:
        """``meta_batch`` distinct pool tasks (all of them if the pool is smaller), fresh points."""
        c = self.config
        index = torch.randperm(c.pool_size, generator=generator)[: c.meta_batch]
        return self.family.batch_for(self.pool[index], c.shots, c.query, generator, index)

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        x = torch.cat([batch.x_support, batch.x_query], dim=1)
        y = torch.cat([batch.y_support, batch.y_query], dim=1)
        heads = self.tensors["heads"][batch.task_index]  # [B, D]
        prediction = (self.features(x) @ heads.unsqueeze(-1))  # [B, N, 1]
        loss = (prediction - y).pow(2).mean()
        return loss, {"loss": loss.item()}

    def meta_train_step(self, batch: TaskBatch) -> dict[str, float]:
        self._prior = None  # the heads move: the prior is re-estimated on next use
        return super().meta_train_step(batch)

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        self._prior = None

    def prior(self) -> HeadPrior:
        """The empirical prior: mean and covariance of the training heads, and the
        noise variance as the trunk's residual MSE on the pool tasks (a fixed grid
        of 100 points per task, so no RNG is involved)."""
        if self._prior is None:
            grid = torch.linspace(*self.family.ranges["x"], 100).view(1, -1, 1).expand(self.config.pool_size, -1, -1)
            with torch.no_grad():
                heads = self.tensors["heads"].detach()
                prediction = self.features(grid) @ heads.unsqueeze(-1)
                truth = self.family.truth(self.pool, grid)
                noise_var = (prediction - truth).pow(2).mean().item() + self.family.noise_std**2
            self._prior = HeadPrior.from_heads(heads, noise_var)
        return self._prior

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        with torch.no_grad():
            phi_support = self.features(x_support)
            phi_query = self.features(x_query).to(torch.float64)
            heads = head_trajectory(phi_support, y_support, self.prior(), steps,
                                    self.default_adapt_lr(x_support.shape[1]) if lr is None else lr)
            predictions = torch.einsum("std,tqd->stq", heads, phi_query)
        return predictions.unsqueeze(-1).to(x_query.dtype)

    def closed_form_predictions(self, x_support, y_support, x_query) -> torch.Tensor:
        """The limit of :meth:`adapt_trajectory`: the posterior-mean head, [T, Q, 1]."""
        with torch.no_grad():
            head = posterior_head(self.features(x_support), y_support, self.prior())
            predictions = self.features(x_query).to(torch.float64) @ head.unsqueeze(-1)
        return predictions.to(x_query.dtype)

    def predictive(self, x_support, y_support, x_query):
        """Mean: the posterior-mean head's prediction (:meth:`closed_form_predictions`);
        std: the head posterior's spread at x_query plus the prior's noise variance."""
        with torch.no_grad():
            variance = predictive_variance(self.features(x_support), self.features(x_query), self.prior())
        return self.closed_form_predictions(x_support, y_support, x_query), variance.sqrt().to(x_query.dtype)

    def head_posterior(self, x_support, y_support):
        """The head posterior under the empirical prior given support points [T, K, 1]: its
        mean [T, D] and a factor [T, D, D] of its covariance (L Sigma_z L^T = factor factor^T),
        float64; heads drawn from it give whole functions (:mod:`metaviz.samples`)."""
        with torch.no_grad():
            phi, prior = self.features(x_support), self.prior()
            # Sigma_z = H^{-1} with H = A^T A / noise_var + I = R R^T (eigenvalues >= 1: R is
            # well conditioned however small the noise), so R^{-T} is a factor of Sigma_z.
            whiten = prior.whitening()
            a = phi.to(torch.float64) @ whiten
            eye = torch.eye(a.shape[-1], dtype=torch.float64).expand(a.shape[0], -1, -1)
            root = torch.linalg.cholesky(a.mT @ a / prior.noise_var + eye)
            factor = whiten @ torch.linalg.solve_triangular(root.mT, eye, upper=True)
            return posterior_head(phi, y_support, prior), factor

    def default_adapt_lr(self, shots: int) -> float:
        # A multiplier on exact conjugate-gradient steps: 1 converges fastest.
        return 1.0


LEARNERS = (
    LearnerSpec("multitask", "multi-task", "#009E73", MultiTask, uses=frozenset({"pool_size", "adapt_lr"}),
                # Every pool task in every step (meta_batch = pool_size).
                defaults={"iterations": 4000, "meta_batch": 200, "pool_size": 200},
                description="A shared trunk with one linear head per training task; a new task gets a new "
                            "head fitted under the prior the training heads define (empirical Bayes).", step_ms=1.4),
)
