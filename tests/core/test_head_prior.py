"""The closed-form head against independent solves; the CG trajectory converges to it."""

import torch

from metaviz.learners.head_prior import HeadPrior, head_trajectory, posterior_head


def _random_problem(tasks=4, points=6, dim=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    phi = torch.randn(tasks, points, dim, generator=g, dtype=torch.float64)
    y = torch.randn(tasks, points, 1, generator=g, dtype=torch.float64)
    mixing = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    heads = torch.randn(50, dim, generator=g, dtype=torch.float64) @ mixing
    return phi, y, heads


def _neg_log_posterior(w, phi, y, prior):
    """[T] objective for heads w [T, D], written directly from the model."""
    fit = ((phi @ w.unsqueeze(-1) - y) ** 2).sum((1, 2)) / (2 * prior.noise_var)
    d = w - prior.mean
    return fit + 0.5 * (d @ torch.linalg.inv(prior.cov) * d).sum(-1)


def test_flat_prior_limit_is_least_squares():
    phi, y, _ = _random_problem(points=30)  # overdetermined: a unique least-squares head
    prior = HeadPrior(mean=torch.zeros(9, dtype=torch.float64), cov=1e8 * torch.eye(9, dtype=torch.float64),
                      noise_var=1e-4)
    expected = torch.linalg.lstsq(phi, y).solution.squeeze(-1)
    assert torch.allclose(posterior_head(phi, y, prior), expected, atol=1e-6)


def test_flat_prior_with_few_points_gives_the_minimum_norm_interpolant():
    phi, y, _ = _random_problem(points=3)
    prior = HeadPrior(mean=torch.zeros(9, dtype=torch.float64), cov=1e8 * torch.eye(9, dtype=torch.float64),
                      noise_var=1e-6)
    expected = (torch.linalg.pinv(phi) @ y).squeeze(-1)
    assert torch.allclose(posterior_head(phi, y, prior), expected, atol=1e-6)


def test_posterior_equals_the_weight_space_formula():
    phi, y, heads = _random_problem()
    prior = HeadPrior.from_heads(heads, noise_var=0.3)
    precision = torch.linalg.inv(prior.cov)
    for t in range(phi.shape[0]):
        a = phi[t].T @ phi[t] / prior.noise_var + precision
        rhs = phi[t].T @ y[t].squeeze(-1) / prior.noise_var + precision @ prior.mean
        expected = torch.linalg.solve(a, rhs)
        assert torch.allclose(posterior_head(phi, y, prior)[t], expected, atol=1e-8)


def test_prior_from_heads_is_their_mean_and_covariance():
    _, _, heads = _random_problem()
    prior = HeadPrior.from_heads(heads, noise_var=1.0, jitter=0.0)
    assert torch.allclose(prior.mean, heads.mean(0))
    assert torch.allclose(prior.cov, torch.cov(heads.T))
    whiten = prior.whitening()
    assert torch.allclose(whiten @ whiten.T, prior.cov, atol=1e-8)


def test_cg_trajectory_starts_at_the_mean_and_converges_to_the_posterior():
    phi, y, heads = _random_problem()
    prior = HeadPrior.from_heads(heads, noise_var=0.05)
    trajectory = head_trajectory(phi, y, prior, steps=9)
    assert trajectory.shape == (10, 4, 9)
    assert torch.allclose(trajectory[0], prior.mean.expand(4, -1))
    # CG on a 9-dimensional quadratic terminates in at most 9 steps.
    assert torch.allclose(trajectory[-1], posterior_head(phi, y, prior), atol=1e-6)
    # Each step lowers the negative log-posterior.
    values = torch.stack([_neg_log_posterior(w, phi, y, prior) for w in trajectory])
    assert (values[1:] <= values[:-1] + 1e-9).all()


def test_damped_steps_approach_more_slowly_but_still_descend():
    phi, y, heads = _random_problem()
    prior = HeadPrior.from_heads(heads, noise_var=0.05)
    full = head_trajectory(phi, y, prior, steps=3, lr=1.0)
    damped = head_trajectory(phi, y, prior, steps=3, lr=0.3)
    full_values = _neg_log_posterior(full[1], phi, y, prior)
    damped_values = [_neg_log_posterior(w, phi, y, prior) for w in damped]
    # The first CG step is an exact line search: a damped step along it ends higher.
    assert (damped_values[1] > full_values).all()
    assert (damped_values[1] < damped_values[0]).all()
