"""Fitting a new linear head under a Gaussian prior estimated from the training heads.

Model for one task with features phi(x) [K, D] (trunk output plus a constant 1):

    y = phi(x) w + noise,  noise ~ N(0, noise_var),  w ~ N(mean, cov)

The training heads are samples of w, so their mean and covariance are an empirical
Bayes prior: it says which few directions of head space real tasks use (for this
family, a sin x + b cos x needs two). The posterior mean is the closed-form head;
the step-by-step trajectory is conjugate gradient on the negative log-posterior in
coordinates whitened by the prior covariance (steps preconditioned by ``cov``), so
it starts at the mean head and reaches the closed-form head in at most D steps,
in practice in the handful of directions the prior allows.

All tensors are float64 here: the noise variance of a well-trained trunk is tiny
and the solves would lose digits in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HeadPrior:
    """mean [D], cov [D, D] (symmetric PSD), noise_var: scalar > 0."""

    mean: torch.Tensor
    cov: torch.Tensor
    noise_var: float

    @classmethod
    def from_heads(cls, heads: torch.Tensor, noise_var: float, jitter: float = 1e-6) -> HeadPrior:
        """Empirical prior from training heads [P, D]; ``jitter`` (relative to the mean
        variance) keeps the covariance positive definite."""
        heads = heads.detach().to(torch.float64)
        mean = heads.mean(dim=0)
        centred = heads - mean
        cov = centred.T @ centred / max(heads.shape[0] - 1, 1)
        scale = cov.diagonal().mean().clamp_min(1e-12)
        cov = cov + jitter * scale * torch.eye(cov.shape[0], dtype=torch.float64)
        return cls(mean=mean, cov=cov, noise_var=max(float(noise_var), 1e-10))

    def whitening(self) -> torch.Tensor:
        """L [D, D] with L L^T = cov (symmetric square root via eigh: robust for PSD)."""
        eigenvalues, eigenvectors = torch.linalg.eigh(self.cov)
        return eigenvectors * eigenvalues.clamp_min(0).sqrt()


def posterior_head(phi: torch.Tensor, y: torch.Tensor, prior: HeadPrior) -> torch.Tensor:
    """Posterior mean head for each task.

    phi: [T, K, D] features of the support points; y: [T, K, 1]. Returns [T, D].
    In whitened coordinates (w = mean + L z, A = phi L) the posterior mean solves
    the ridge problem min ||A z - (y - phi mean)||^2 + noise_var ||z||^2, solved as
    the least-squares problem [A; sqrt(noise_var) I] z = [r; 0], which stays accurate
    for any K (fewer or more points than features) and any prior scale.
    """
    phi = phi.to(torch.float64)
    whiten = prior.whitening()
    a = phi @ whiten  # [T, K, D]
    residual = y.to(torch.float64) - phi @ prior.mean.unsqueeze(-1)  # [T, K, 1]
    dim = whiten.shape[0]
    ridge = (prior.noise_var**0.5) * torch.eye(dim, dtype=torch.float64).expand(phi.shape[0], dim, dim)
    stacked = torch.cat([a, ridge], dim=1)
    rhs = torch.cat([residual, torch.zeros(phi.shape[0], dim, 1, dtype=torch.float64)], dim=1)
    z = torch.linalg.lstsq(stacked, rhs).solution.squeeze(-1)  # [T, D]
    return prior.mean + z @ whiten.T


def whitened_posterior_cov(phi: torch.Tensor, prior: HeadPrior) -> torch.Tensor:
    """Posterior covariance of the whitened head z (w = mean + L z) for each task.

    phi: [T, K, D] features of the support points. Returns [T, D, D]:
    (A^T A / noise_var + I)^{-1} with A = phi L, the inverse Hessian of the quadratic
    that :func:`head_trajectory` minimises (the head's covariance is L Sigma_z L^T).
    Every eigenvalue of the Hessian is >= 1, so its Cholesky factor is well conditioned.
    """
    a = phi.to(torch.float64) @ prior.whitening()
    eye = torch.eye(a.shape[-1], dtype=torch.float64)
    return torch.cholesky_inverse(torch.linalg.cholesky(a.mT @ a / prior.noise_var + eye))


def predictive_variance(phi_support: torch.Tensor, phi_query: torch.Tensor, prior: HeadPrior) -> torch.Tensor:
    """Variance of y at the query points under the posterior head, noise included.

    phi_support: [T, K, D]; phi_query: [T, Q, D]. Returns [T, Q, 1]:
    b^T Sigma_z b + noise_var with b = L^T phi (the query features in whitened coordinates).
    """
    b = phi_query.to(torch.float64) @ prior.whitening()  # [T, Q, D]
    cov = whitened_posterior_cov(phi_support, prior)
    return ((b @ cov) * b).sum(dim=-1, keepdim=True) + prior.noise_var


def head_trajectory(
    phi: torch.Tensor, y: torch.Tensor, prior: HeadPrior, steps: int, lr: float = 1.0
) -> torch.Tensor:
    """Heads after 0..steps preconditioned conjugate-gradient steps from the prior mean.

    phi: [T, K, D]; y: [T, K, 1]. Returns [steps + 1, T, D].
    With z the whitened head (w = mean + L z), the negative log-posterior is the
    quadratic 1/2 z^T H z - b^T z with H = A^T A / noise_var + I, A = phi L. ``lr``
    scales every step (1 = exact line search, plain CG, which converges to
    :func:`posterior_head`); smaller values show a slower, damped approach.
    """
    phi = phi.to(torch.float64)
    whiten = prior.whitening()
    a = phi @ whiten  # [T, K, D]
    residual0 = y.to(torch.float64).squeeze(-1) - phi @ prior.mean  # [T, K]
    b = (a.transpose(1, 2) @ residual0.unsqueeze(-1)).squeeze(-1) / prior.noise_var  # [T, D]

    def hessian_times(v: torch.Tensor) -> torch.Tensor:
        av = (a @ v.unsqueeze(-1)).squeeze(-1)
        return (a.transpose(1, 2) @ av.unsqueeze(-1)).squeeze(-1) / prior.noise_var + v

    z = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    heads = [prior.mean.expand_as(b).clone()]
    for _ in range(steps):
        hp = hessian_times(p)
        rr = (r * r).sum(-1, keepdim=True)
        curvature = (p * hp).sum(-1, keepdim=True)
        # A task already at its optimum has r = p = 0: take no step rather than 0/0.
        alpha = torch.where(curvature > 0, rr / curvature.clamp_min(1e-300), torch.zeros_like(rr))
        z = z + lr * alpha * p
        r_new = b - hessian_times(z)
        beta = torch.where(rr > 0, (r_new * r_new).sum(-1, keepdim=True) / rr.clamp_min(1e-300),
                           torch.zeros_like(rr))
        p = r_new + beta * p
        r = r_new
        heads.append(prior.mean + z @ whiten.T)
    return torch.stack(heads)
