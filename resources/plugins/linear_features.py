"""A metaviz plugin: ridge regression on meta-learned features (a learner metaviz does not ship).

An MLP trunk (1-40-40 by default) maps x to features phi(x), plus a constant 1. A new
task is fitted in closed form by ridge regression of the support labels on those
features; meta-training makes the trunk's features such that this closed-form fit
predicts the query points (the loss is differentiated through ``torch.linalg.solve``).
In the spirit of R2-D2 (Bertinetto et al. 2019), on the regression tasks metaviz uses.

Load it with ``--plugin resources/plugins/linear_features.py`` or ``METAVIZ_PLUGINS``.
"""

from __future__ import annotations

import torch

from metaviz.learners import Learner, LearnerSpec
from metaviz.nets import expand_for_tasks, features, init_params, layer_sizes, param_names


class RidgeFeatures(Learner):
    """Learned trunk + closed-form ridge head. ``ridge`` is the fixed penalty lambda on
    every head weight (the bias too): head = (phi^T phi + lambda I)^-1 phi^T y."""

    gradient_steps = False
    steps_note = "closed-form ridge fit: no gradient steps"

    def __init__(self, config, ridge: float = 0.1) -> None:
        self.ridge = float(ridge)
        super().__init__(config)

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        sizes = layer_sizes(self.config.hidden)[:-1]  # the MLP without its output layer
        return dict(zip(param_names(sizes), init_params(sizes, generator)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [T, N, 1] -> phi [T, N, width + 1] (trunk features and a constant 1)."""
        h = features(expand_for_tasks(list(self.tensors.values()), x.shape[0]), x)
        return torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)

    def ridge_head(self, phi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The ridge solution of every task at once: phi [T, K, D], y [T, K, 1] -> [T, D, 1]."""
        gram = phi.transpose(1, 2) @ phi  # [T, D, D]
        eye = torch.eye(phi.shape[-1], dtype=phi.dtype)
        return torch.linalg.solve(gram + self.ridge * eye, phi.transpose(1, 2) @ y)

    def predict(self, x_support, y_support, x_query) -> torch.Tensor:
        """Query predictions [T, Q, 1] of the ridge head fitted on the support points."""
        return self.features(x_query) @ self.ridge_head(self.features(x_support), y_support)

    def sample_batch(self, generator: torch.Generator):
        c = self.config
        return self.family.sample_batch(c.meta_batch, c.shots, c.query, generator)

    def training_loss(self, batch):
        loss = (self.predict(batch.x_support, batch.y_support, batch.x_query) - batch.y_query).pow(2).mean()
        return loss, {"loss": loss.item()}

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        """Predictions [steps + 1, T, Q, 1]. There are no gradient steps: step 0 is the zero
        head (no support point seen, predicts 0), every step >= 1 is the ridge solution, so
        the curve is flat after one step. ``lr`` is ignored. Parameters are not changed."""
        with torch.no_grad():
            fitted = self.predict(x_support, y_support, x_query)
        return torch.stack([torch.zeros_like(fitted)] + [fitted] * steps)

    def default_adapt_lr(self, shots: int) -> float:
        return 1.0  # unused: the fit is closed-form


LEARNERS = (
    LearnerSpec("ridgefeatures", "ridge on learned features (plugin)", "#009E73", RidgeFeatures,
                description="A meta-learned MLP trunk whose features a closed-form ridge regression on the "
                            "support points fits to a new task (no gradient steps at test time).",
                defaults={"iterations": 300, "meta_lr": 3e-3}, options={"ridge": 0.1}),
)
