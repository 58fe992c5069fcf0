"""A meta-learned Bayesian head: ALPaCA (Harrison, Sharma & Pavone 2018, "Meta-Learning
Priors for Efficient Online Bayesian Regression").

Bayesian linear regression on learned features phi(x) (the 1-40-40 trunk plus a
constant 1, D = 41), for one task::

    y = phi(x)^T w + noise,   noise ~ N(0, s2),   w ~ N(m, s2 Lambda0^{-1})

The prior is ALPaCA's matrix-normal prior for one output: its covariance is scaled by
the noise variance, the same family as w ~ N(m, Lambda^{-1}) with Lambda = Lambda0 / s2,
but the posterior mean then does not depend on s2, so shrinking the noise (noise-free
tasks) does not also re-weight the prior. Given K support points (Phi [K, D], y [K]):

    Lambda_n = Lambda0 + Phi^T Phi,   w_n = Lambda_n^{-1} (Phi^T y + Lambda0 m)
    y* | x*  ~ N(phi*^T w_n, s2 (1 + phi*^T Lambda_n^{-1} phi*))

The trunk, m, Lambda0 and s2 are meta-trained end to end by the exact posterior-predictive
log-likelihood of the query points given the support points (each query point's own
predictive, as the paper's loss), with a context size drawn per task in 0..shots as the
paper does (:mod:`.context`). Lambda0 = F F^T with F lower triangular and a positive
(exponentiated) diagonal, so it is positive definite for every parameter value; s2 =
exp(log_noise_var). The head algebra runs in float64 with Cholesky solves: Lambda0 spans
many orders of magnitude once the prior has learned which few head directions tasks use.
"""

from __future__ import annotations

import math

import torch

from ..nets import features_with_constant, init_params, layer_sizes, param_names, per_task_gaussian_nll
from ..tasks import TaskBatch
from .base import Learner
from .context import sample_context_batch, support_mask
from .registry import LearnerSpec


def _cholesky_or_nan(matrices: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factors of [T, n, n]; a task whose matrix does not factor gets nan."""
    chol, info = torch.linalg.cholesky_ex(matrices)
    return torch.where((info == 0).view(-1, 1, 1), chol, torch.full_like(chol, math.nan))


class ALPaCA(Learner):
    """Tensors: the trunk's layers, ``prior_mean`` [D], ``precision_factor`` [D, D] (its
    strict lower triangle and log-diagonal make F; the upper triangle is unused) and
    ``log_noise_var`` [1]."""

    has_predictive = True
    gradient_steps = False
    steps_note = "closed-form posterior: no gradient steps"

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        c = self.config
        trunk_sizes = layer_sizes(c.hidden)[:-1]
        tensors = dict(zip(param_names(trunk_sizes), init_params(trunk_sizes, generator)))
        dim = c.hidden[-1] + 1
        tensors["prior_mean"] = torch.zeros(dim).requires_grad_()
        tensors["precision_factor"] = torch.zeros(dim, dim).requires_grad_()  # Lambda0 = I at the start
        tensors["log_noise_var"] = torch.zeros(1).requires_grad_()
        return tensors

    # --- the model ------------------------------------------------------------------
    @property
    def trunk(self) -> list[torch.Tensor]:
        return [t for name, t in self.tensors.items() if name.startswith("layer")]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [T, N, 1] -> phi [T, N, D] in float64 (trunk features and a constant 1).

        The trunk is shared by every task, so all T * N points go through it as one task:
        one matrix product per layer instead of a batched one over expanded weights."""
        return features_with_constant(self.trunk, x.reshape(1, -1, 1)).reshape(*x.shape[:2], -1).to(torch.float64)

    def precision_factor(self) -> torch.Tensor:
        """F [D, D], float64, lower triangular with a positive diagonal: Lambda0 = F F^T."""
        f = self.tensors["precision_factor"].to(torch.float64)
        return f.tril(-1) + torch.diag(f.diagonal().exp())

    def noise_var(self) -> torch.Tensor:
        """s2 [], float64."""
        return self.tensors["log_noise_var"].to(torch.float64).exp().squeeze(0)

    def whiten(self, phi: torch.Tensor) -> torch.Tensor:
        """g = F^{-1} phi for every point: phi [T, N, D] -> g [T, N, D]. The prior covariance
        of the outputs at two points is s2 g . g' (F is shared: one triangular solve)."""
        t, n, d = phi.shape
        g = torch.linalg.solve_triangular(self.precision_factor(), phi.reshape(t * n, d).T, upper=False)
        return g.T.reshape(t, n, d)

    def predict(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior predictive mean and variance [T, Q, 1] each, float64.

        x_support, y_support [T, K, 1]; x_query [T, Q, 1]; ``mask`` [T, K, 1] drops points
        (0) from a task's support set (a dropped point's features and target count as 0:
        it moves nothing). Both forms below are exact; each task's factorisation is K x K
        in function space and D x D in weight space, so the smaller one is used (training:
        K = 10 < D = 41; an evaluation at K = 1000 stays small). A task whose matrix fails
        to factor gets nan (counted as diverged), not an exception for the whole batch.
        """
        phi = self.features(torch.cat([x_support, x_query], dim=1))
        phi_support, phi_query = phi[:, :x_support.shape[1]], phi[:, x_support.shape[1]:]
        y = y_support.to(torch.float64)
        if mask is not None:
            phi_support, y = phi_support * mask.to(torch.float64), y * mask.to(torch.float64)
        form = self._function_space if x_support.shape[1] <= phi.shape[-1] else self._weight_space
        mean, spread = form(phi_support, y, phi_query)
        return mean, (self.noise_var() * spread).unsqueeze(-1)

    def _function_space(self, phi_support, y, phi_query):
        """Woodbury form: with G the whitened support features, S = G G^T + I and
        r = y - Phi m: mean = phi*^T m + g*^T G^T S^{-1} r, spread = 1 + g*^T g* - g*^T G^T S^{-1} G g*.
        Returns mean [T, Q, 1] and spread [T, Q] (the variance over s2)."""
        mean_head = self.tensors["prior_mean"].to(torch.float64).view(-1, 1)
        g_support, g_query = self.whiten(phi_support), self.whiten(phi_query)
        eye = torch.eye(g_support.shape[1], dtype=torch.float64, device=g_support.device)
        chol = _cholesky_or_nan(g_support @ g_support.mT + eye)
        head = g_support.mT @ torch.cholesky_solve(y - phi_support @ mean_head, chol)  # whitened: [T, D, 1]
        explained = torch.linalg.solve_triangular(chol, g_support @ g_query.mT, upper=False)  # [T, K, Q]
        # >= 1 exactly; the clamp only guards against rounding in the subtraction.
        spread = (1 + g_query.pow(2).sum(-1) - explained.pow(2).sum(1)).clamp_min(1.0)
        return phi_query @ mean_head + g_query @ head, spread

    def _weight_space(self, phi_support, y, phi_query):
        """The formulas above: Lambda_n = Lambda0 + Phi^T Phi = C C^T, w_n by a Cholesky
        solve, spread = 1 + |C^{-1} phi*|^2. Returns mean [T, Q, 1] and spread [T, Q]."""
        chol, head = self._posterior(phi_support, y)
        solved = torch.linalg.solve_triangular(chol, phi_query.mT, upper=False)  # [T, D, Q]
        return phi_query @ head, 1 + solved.pow(2).sum(1)

    def _posterior(self, phi_support, y):
        """C [T, D, D] (Lambda_n = C C^T) and the posterior mean head w_n [T, D, 1]."""
        factor = self.precision_factor()
        precision = factor @ factor.T
        chol = _cholesky_or_nan(precision + phi_support.mT @ phi_support)
        prior_term = (precision @ self.tensors["prior_mean"].to(torch.float64)).view(1, -1, 1)
        return chol, torch.cholesky_solve(phi_support.mT @ y + prior_term, chol)

    def head_posterior(self, x_support, y_support):
        """The posterior over the head w given support points [T, K, 1]: its mean [T, D] and
        a factor [T, D, D] of its covariance s2 Lambda_n^{-1} = factor factor^T, float64
        (factor = sqrt(s2) C^{-T}). Heads drawn from it give whole functions phi(x) . w
        (:mod:`metaviz.samples`)."""
        with torch.no_grad():
            # features() reshapes through the points, so K = 0 (the prior) is built directly.
            phi = (self.features(x_support) if x_support.shape[1] else
                   torch.zeros(x_support.shape[0], 0, self.tensors["prior_mean"].numel(), dtype=torch.float64))
            chol, head = self._posterior(phi, y_support.to(torch.float64))
            eye = torch.eye(chol.shape[-1], dtype=torch.float64).expand_as(chol)
            factor = self.noise_var().sqrt() * torch.linalg.solve_triangular(chol.mT, eye, upper=True)
        return head.squeeze(-1), factor

    # --- training -------------------------------------------------------------------
    def sample_batch(self, generator: torch.Generator) -> TaskBatch:
        """``meta_batch`` fresh tasks; each conditions on its first 0..shots support points."""
        c = self.config
        return sample_context_batch(self.family, c.meta_batch, c.shots, c.query, 0, generator)

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The mean over tasks and query points of -log p(y_query | x_query, support).

        Reported as ``nll``; ``loss`` reports the query MSE of the posterior mean, so the
        training curve reads on the same (log) MSE axis as every other learner's.
        """
        mean, var = self.predict(batch.x_support, batch.y_support, batch.x_query, support_mask(batch))
        y = batch.y_query.to(torch.float64)
        nll = per_task_gaussian_nll(mean, var.sqrt(), y).mean()
        mse = (mean - y).pow(2).mean()
        return nll, {"loss": mse.item(), "nll": nll.item()}

    # --- adaptation -----------------------------------------------------------------
    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        """Step 0: the prior-mean head's prediction; steps >= 1: the posterior mean.

        There are no gradient steps: the posterior is exact after one closed-form update,
        so the curve is flat from step 1 on (``lr`` is ignored).
        """
        with torch.no_grad():
            prior = self.features(x_query) @ self.tensors["prior_mean"].to(torch.float64).view(-1, 1)
            if steps == 0:
                return prior.unsqueeze(0).to(x_query.dtype)
            posterior = self.predict(x_support, y_support, x_query)[0].unsqueeze(0).expand(steps, -1, -1, -1)
            return torch.cat([prior.unsqueeze(0), posterior]).to(x_query.dtype)

    def predictive(self, x_support, y_support, x_query):
        """Posterior predictive mean and std [T, Q, 1] (std including the noise s2)."""
        with torch.no_grad():
            mean, var = self.predict(x_support, y_support, x_query)
        return mean.to(x_query.dtype), var.sqrt().to(x_query.dtype)

    def default_adapt_lr(self, shots: int) -> float:
        return 1.0  # unused: the update is closed form


LEARNERS = (
    LearnerSpec("alpaca", "Bayesian head (ALPaCA)", "#CC79A7", ALPaCA,
                defaults={"iterations": 3000},
                description="ALPaCA (Harrison et al. 2018): Bayesian linear regression on meta-learned features; "
                            "prior and noise meta-trained through the closed-form posterior predictive. "
                            "Exact in one update: its steps curve is flat after step 1.", step_ms=1.6),
)
