"""Function samples from the Bayesian-head learners' joint posteriors, checked by Monte
Carlo against an independent weight-space Bayesian linear regression written here (and
against each learner's own predictive), and refused where no joint posterior exists."""

import math

import pytest
import torch

from metaviz.learners import default_config, make_learner
from metaviz.samples import function_samples, has_function_samples, why_no_samples
from metaviz.streams import make_generator
from tests.helpers import trained_learner

F64 = torch.float64
DRAWS = 40_000


def _reference(learner, x_support, y_support, x_query):
    """Posterior mean [Q] and covariance [Q, Q] of f(x_query) (no noise), and the noise
    variance, by explicit matrices: w ~ N(m0, S0), y = phi w + noise."""
    phi_s = learner.features(x_support)[0].to(F64) if x_support.shape[1] else None
    phi_q = learner.features(x_query)[0].to(F64)
    if learner.kind == "alpaca":
        raw = learner.tensors["precision_factor"].detach().to(F64)
        factor = torch.tril(raw, -1) + torch.diag(torch.exp(torch.diagonal(raw)))
        noise_var = math.exp(learner.tensors["log_noise_var"].item())
        m0 = learner.tensors["prior_mean"].detach().to(F64)
        precision0 = factor @ factor.T / noise_var  # S0 = s2 Lambda0^{-1}
    else:
        prior = learner.prior()
        m0, noise_var = prior.mean, prior.noise_var
        precision0 = torch.linalg.inv(prior.cov)
    precision = precision0 + (phi_s.T @ phi_s / noise_var if phi_s is not None else 0)
    cov = torch.linalg.inv(precision)
    rhs = precision0 @ m0 + (phi_s.T @ y_support[0, :, 0].to(F64) / noise_var if phi_s is not None else 0)
    return phi_q @ cov @ rhs, phi_q @ cov @ phi_q.T, noise_var


@pytest.mark.parametrize("kind", ["alpaca", "multitask"])
@pytest.mark.parametrize("shots", [0, 3])
def test_samples_have_the_posterior_mean_and_covariance(kind, shots):
    learner = trained_learner(kind, iterations=20)
    g = make_generator(5)
    x_support = torch.empty(1, shots, 1).uniform_(-5, 5, generator=g)
    y_support = 2 * torch.sin(x_support - 0.5)
    x_query = torch.tensor([[[-4.0], [-1.0], [-0.8], [3.0]]])
    drawn = function_samples(learner, x_support, y_support, x_query, DRAWS, make_generator(1))
    assert drawn.shape == (DRAWS, 1, 4, 1)
    f = drawn[:, 0, :, 0]
    mean, cov, noise_var = _reference(learner, x_support, y_support, x_query)
    sd = cov.diagonal().sqrt()
    # The sample mean within 5 Monte Carlo standard errors of the posterior mean.
    assert ((f.mean(0) - mean).abs() <= 5 * sd / math.sqrt(DRAWS) + 1e-9).all()
    # The sample covariance, cross terms included: samples are whole functions, so two
    # nearby points (-1, -0.8) move together; independent draws per x would have 0 there.
    centred = f - f.mean(0)
    sample_cov = centred.T @ centred / (DRAWS - 1)
    scale = torch.outer(sd, sd)
    assert ((sample_cov - cov).abs() <= 5 * scale * math.sqrt(2 / DRAWS)).all()
    assert sample_cov[1, 2] / scale[1, 2] > 0.5
    # And the learner's own predictive (computed its own way) agrees: std^2 = var f + noise.
    p_mean, p_std = learner.predictive(x_support, y_support, x_query)
    assert torch.allclose(p_mean[0, :, 0].to(F64), mean, atol=1e-4 * (1 + mean.abs().max().item()))
    assert torch.allclose(p_std[0, :, 0].to(F64) ** 2, cov.diagonal() + noise_var, rtol=1e-3)


def test_samples_are_a_fixed_function_of_the_generator():
    learner = trained_learner("alpaca", iterations=5)
    x = torch.linspace(-5, 5, 7).view(1, -1, 1)
    first = function_samples(learner, x[:, :2], x[:, :2], x, 3, make_generator(0))
    again = function_samples(learner, x[:, :2], x[:, :2], x, 3, make_generator(0))
    other = function_samples(learner, x[:, :2], x[:, :2], x, 3, make_generator(1))
    assert torch.equal(first, again) and not torch.allclose(first, other)


def test_only_a_joint_posterior_gives_samples_and_the_others_say_why():
    alpaca, multitask = make_learner(default_config("alpaca")), make_learner(default_config("multitask"))
    cnp, maml = make_learner(default_config("cnp")), make_learner(default_config("maml"))
    assert has_function_samples(alpaca) and has_function_samples(multitask)
    assert not has_function_samples(cnp) and not has_function_samples(maml)
    assert why_no_samples(alpaca, "ALPaCA") == ""
    assert "not a distribution over whole functions" in why_no_samples(cnp, "the CNP")
    assert "no predictive distribution" in why_no_samples(maml, "MAML")
    x = torch.zeros(1, 2, 1)
    with pytest.raises(ValueError, match="no joint posterior"):
        function_samples(cnp, x, x, x, 3, make_generator(0))
    with pytest.raises(ValueError, match="count"):
        function_samples(alpaca, x, x, x, 0, make_generator(0))
    with pytest.raises(ValueError, match="x_query"):
        function_samples(alpaca, x, x, x.double(), 3, make_generator(0))
