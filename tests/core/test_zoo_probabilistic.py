"""The learners with a predictive distribution (ALPaCA, the CNP, the multi-task head
posterior) against independent references, and the NLL / coverage of evaluation against
a hand computation."""

import json
import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from metaviz.config import TaskConfig
from metaviz.jobs.evaluation import evaluate
from metaviz.learners import default_config, make_learner
from metaviz.learners.context import ContextBatch
from metaviz.report import CSV_COLUMNS, PREDICTIVE_COLUMNS, curves_csv, format_markdown, format_table, table_rows
from metaviz.streams import EVALUATION_SEED, Stream, make_generator, stream
from metaviz.tasks import make_family
from tests.helpers import trained_learner

F64 = torch.float64


# --- ALPaCA -------------------------------------------------------------------------
def _alpaca(seed=0):
    """An ALPaCA learner with every head tensor moved off its (special) initial value."""
    learner = make_learner(default_config("alpaca", hidden=(8, 8), seed=seed))
    g = make_generator(100 + seed)
    with torch.no_grad():
        dim = learner.tensors["prior_mean"].shape[0]
        learner.tensors["prior_mean"].copy_(torch.randn(dim, generator=g))
        learner.tensors["precision_factor"].copy_(0.3 * torch.randn(dim, dim, generator=g))
        learner.tensors["log_noise_var"].fill_(math.log(0.05))
    return learner


def _reference_parts(learner):
    """phi(x) from explicit matrix products, and the prior (mean, covariance, noise variance)
    the parameters define, all float64: Lambda0 = F F^T, prior covariance s2 Lambda0^{-1}."""
    t = {name: v.detach().to(F64) for name, v in learner.tensors.items()}

    def phi(x):  # x [N, 1] -> [N, D]
        h = torch.relu(x.to(F64) @ t["layer0.weight"] + t["layer0.bias"])
        h = torch.relu(h @ t["layer1.weight"] + t["layer1.bias"])
        return torch.cat([h, torch.ones(h.shape[0], 1, dtype=F64)], dim=1)

    raw = t["precision_factor"]
    factor = torch.tril(raw, -1) + torch.diag(torch.exp(torch.diagonal(raw)))
    noise_var = math.exp(t["log_noise_var"].item())
    prior_cov = noise_var * torch.linalg.inv(factor @ factor.T)
    return phi, t["prior_mean"], prior_cov, noise_var


def _weight_space_predictive(phi_s, y_s, phi_q, mean0, cov0, noise_var):
    """Bayesian linear regression for one task, with explicit matrices and linalg.solve."""
    d = cov0.shape[0]
    precision = torch.linalg.solve(cov0, torch.eye(d, dtype=F64)) + phi_s.T @ phi_s / noise_var
    cov = torch.linalg.solve(precision, torch.eye(d, dtype=F64))
    head = cov @ (torch.linalg.solve(cov0, mean0) + phi_s.T @ y_s.to(F64).view(-1) / noise_var)
    return phi_q @ head, (phi_q @ cov * phi_q).sum(dim=1) + noise_var


@pytest.mark.parametrize("shots", [6, 12])  # fewer and more points than features (D = 9): both forms
def test_alpaca_predictive_equals_weight_space_bayesian_linear_regression(shots):
    learner = _alpaca()
    batch = learner.family.sample_batch(4, shots, 9, make_generator(3))
    mean, var = learner.predict(batch.x_support, batch.y_support, batch.x_query)
    phi, mean0, cov0, noise_var = _reference_parts(learner)
    for t in range(4):
        ref_mean, ref_var = _weight_space_predictive(phi(batch.x_support[t]), batch.y_support[t],
                                                     phi(batch.x_query[t]), mean0, cov0, noise_var)
        # The learner's trunk runs in float32 (the head algebra in float64): agreement to ~1e-6.
        assert torch.allclose(mean[t, :, 0], ref_mean, rtol=1e-5, atol=1e-5)
        assert torch.allclose(var[t, :, 0], ref_var, rtol=1e-5)
        assert (ref_var > noise_var).all()
    # The public answers are the same numbers: predictive (std) and the trajectory.
    mean32, std32 = learner.predictive(batch.x_support, batch.y_support, batch.x_query)
    assert torch.allclose(mean32, mean.float()) and torch.allclose(std32, var.sqrt().float())
    trajectory = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 3)
    prior_mean = torch.stack([phi(x) @ mean0 for x in batch.x_query]).unsqueeze(-1)
    assert torch.allclose(trajectory[0].to(F64), prior_mean, atol=1e-5)
    for step in (1, 2, 3):  # closed form: flat after one update
        assert torch.equal(trajectory[step], mean32)


def test_alpaca_masked_support_points_are_dropped():
    learner = _alpaca(1)
    counts = (0, 3, 7, 12)  # 12 > D = 9: the weight-space form, the others the function-space one
    batch = learner.family.sample_batch(4, 12, 5, make_generator(4))
    mask = (torch.arange(12).view(1, -1, 1) < torch.tensor(counts).view(-1, 1, 1)).double()
    mean, var = learner.predict(batch.x_support, batch.y_support, batch.x_query, mask)
    for t, count in enumerate(counts):
        sub = learner.predict(batch.x_support[t:t + 1, :count], batch.y_support[t:t + 1, :count],
                              batch.x_query[t:t + 1])
        assert torch.allclose(mean[t], sub[0][0], rtol=1e-6, atol=1e-6)  # float32 trunk, other batch shape
        assert torch.allclose(var[t], sub[1][0], rtol=1e-6)


def _function_space_nll(learner, batch):
    """-mean log p(y_q | x_q, first c_t support points), each query point on its own, by
    conditioning the prior function-space Gaussian N(Phi m, s2 (Phi Lambda0^{-1} Phi^T + I)):
    log p(y_q | y_s) = log p(y_s, y_q) - log p(y_s). Differentiable in the learner's tensors."""
    t = {name: v.to(F64) for name, v in learner.tensors.items()}
    raw = t["precision_factor"]
    factor = torch.tril(raw, -1) + torch.diag(torch.exp(torch.diagonal(raw)))
    noise_var = torch.exp(t["log_noise_var"][0])
    covariance_of_head = torch.cholesky_inverse(torch.linalg.cholesky(factor @ factor.T))  # Lambda0^{-1}

    def phi(x):
        h = torch.relu(x.to(F64) @ t["layer0.weight"] + t["layer0.bias"])
        h = torch.relu(h @ t["layer1.weight"] + t["layer1.bias"])
        return torch.cat([h, torch.ones(h.shape[0], 1, dtype=F64)], dim=1)

    def log_density(p, y):
        cov = noise_var * (p @ covariance_of_head @ p.T + torch.eye(p.shape[0], dtype=F64))
        return MultivariateNormal(p @ t["prior_mean"], covariance_matrix=cov).log_prob(y.to(F64).view(-1))

    total, count = 0.0, 0
    for task in range(batch.num_tasks):
        c = int(batch.context[task])
        phi_s, y_s = phi(batch.x_support[task, :c]), batch.y_support[task, :c]
        support = log_density(phi_s, y_s) if c else 0.0
        for j in range(batch.x_query.shape[1]):
            joint = log_density(torch.cat([phi_s, phi(batch.x_query[task, j:j + 1])]),
                                torch.cat([y_s, batch.y_query[task, j:j + 1]]))
            total = total - (joint - support)
            count += 1
    return total / count


def test_alpaca_training_loss_and_gradient_equal_the_function_space_likelihood():
    learner = _alpaca(2)
    plain = learner.family.sample_batch(4, 6, 5, make_generator(5))
    batch = ContextBatch(**vars(plain), context=torch.tensor([0, 2, 6, 4]))
    loss, metrics = learner.training_loss(batch)
    reference = _function_space_nll(learner, batch)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)  # the learner's trunk is float32
    assert metrics["nll"] == pytest.approx(loss.item(), rel=1e-6)
    tensors = list(learner.tensors.values())
    grads = torch.autograd.grad(loss, tensors)
    reference_grads = torch.autograd.grad(reference, tensors)
    for name, a, b in zip(learner.tensors, grads, reference_grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), name
    # The reported "loss" is the query MSE of the posterior mean (the curve every learner shows).
    mean, _ = learner.predict(batch.x_support, batch.y_support, batch.x_query,
                              (torch.arange(6).view(1, -1, 1) < batch.context.view(-1, 1, 1)).double())
    assert metrics["loss"] == pytest.approx((mean - batch.y_query.to(F64)).pow(2).mean().item(), rel=1e-9)


def test_alpaca_context_sizes_cover_zero_to_shots():
    learner = make_learner(default_config("alpaca", meta_batch=400, shots=4))
    batch = learner.sample_batch(make_generator(0))
    assert set(batch.context.tolist()) == {0, 1, 2, 3, 4} and batch.x_support.shape[1] == 4


# --- CNP ----------------------------------------------------------------------------
def test_cnp_aggregation_is_permutation_invariant_and_masks_drop_points():
    learner = trained_learner("cnp", iterations=5)
    batch = learner.family.sample_batch(3, 8, 6, make_generator(6))
    perm = torch.randperm(8, generator=make_generator(7))
    r = learner.representation(batch.x_support, batch.y_support)
    r_perm = learner.representation(batch.x_support[:, perm], batch.y_support[:, perm])
    assert torch.allclose(r, r_perm, atol=1e-6)
    shuffled = learner.predictive(batch.x_support[:, perm], batch.y_support[:, perm], batch.x_query)
    for a, b in zip(learner.predictive(batch.x_support, batch.y_support, batch.x_query), shuffled):
        assert torch.allclose(a, b, atol=1e-5)
    mask = (torch.arange(8).view(1, -1, 1) < torch.tensor([1, 5, 8]).view(-1, 1, 1)).float()
    masked = learner.representation(batch.x_support, batch.y_support, mask)
    for t, count in enumerate((1, 5, 8)):
        alone = learner.representation(batch.x_support[t:t + 1, :count], batch.y_support[t:t + 1, :count])
        assert torch.allclose(masked[t], alone[0], atol=1e-6)


def test_cnp_std_is_positive_even_for_extreme_decoder_outputs():
    learner = make_learner(default_config("cnp", hidden=(16, 16)))
    with torch.no_grad():
        learner.tensors["decoder.layer2.bias"][0, 1] = -1e4  # the raw std output, driven far negative
    batch = learner.family.sample_batch(2, 5, 7, make_generator(8))
    mean, std = learner.predictive(batch.x_support, batch.y_support, batch.x_query)
    assert (std >= 0.1).all() and torch.isfinite(std).all() and torch.isfinite(mean).all()


def test_cnp_loss_is_the_gaussian_nll_of_the_query_points_given_the_context():
    learner = trained_learner("cnp", iterations=5)
    plain = learner.family.sample_batch(3, 6, 4, make_generator(9))
    batch = ContextBatch(**vars(plain), context=torch.tensor([0, 6, 3]))
    loss, metrics = learner.training_loss(batch)
    expected = []
    for t in range(3):
        c = int(batch.context[t])
        mean, std = learner.predictive(batch.x_support[t:t + 1, :c], batch.y_support[t:t + 1, :c],
                                       batch.x_query[t:t + 1])
        expected.append(-Normal(mean, std).log_prob(batch.y_query[t:t + 1]).mean())
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)
    trajectory = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 4)
    full_mean, _ = learner.predictive(batch.x_support, batch.y_support, batch.x_query)
    assert all(torch.equal(step, full_mean) for step in trajectory)  # no gradient steps: flat


# --- the multi-task head posterior --------------------------------------------------------
def test_multitask_predictive_is_the_weight_space_head_posterior():
    learner = trained_learner("multitask", iterations=30)
    batch = learner.family.sample_batch(5, 5, 8, make_generator(10))
    mean, std = learner.predictive(batch.x_support, batch.y_support, batch.x_query)
    assert torch.equal(mean, learner.closed_form_predictions(batch.x_support, batch.y_support, batch.x_query))
    prior = learner.prior()
    cov0, noise_var = prior.cov, prior.noise_var
    for t in range(5):
        phi_s = learner.features(batch.x_support[t:t + 1])[0].to(F64)
        phi_q = learner.features(batch.x_query[t:t + 1])[0].to(F64)
        # Posterior covariance by the Woodbury form (no inverse of the near-singular prior covariance).
        gram = phi_s @ cov0 @ phi_s.T + noise_var * torch.eye(5, dtype=F64)
        cov = cov0 - cov0 @ phi_s.T @ torch.linalg.solve(gram, phi_s @ cov0)
        reference = (phi_q @ cov * phi_q).sum(dim=1) + noise_var
        assert torch.allclose(std[t, :, 0].to(F64).pow(2), reference, rtol=1e-4)


@pytest.mark.parametrize("kind", ["alpaca", "cnp", "multitask"])
def test_predictive_leaves_parameters_unchanged(kind):
    learner = trained_learner(kind, iterations=10)
    before = {name: t.detach().clone() for name, t in learner.tensors.items()}
    for tensor in learner.tensors.values():
        tensor.grad = None
    batch = learner.family.sample_batch(4, 5, 6, make_generator(11))
    mean, std = learner.predictive(batch.x_support, batch.y_support, batch.x_query)
    learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 2)
    assert mean.shape == std.shape == (4, 6, 1) and (std > 0).all()
    for name, tensor in learner.tensors.items():
        assert torch.equal(tensor, before[name]) and tensor.grad is None, name


# --- NLL and coverage in evaluation -------------------------------------------------------
class _Gaussian:
    """A learner stand-in with a known predictive: mean ``mean_of(tasks, x)``, std ``std``
    (``tasks`` the evaluation's held-out tasks, regenerated here as the protocol draws them)."""

    has_predictive = True

    def __init__(self, mean_of, std, noise_std=0.0):
        self.family = make_family(TaskConfig(noise_std=noise_std))
        self.kind, self.iteration = "gaussian", 0
        self.mean_of, self.std = mean_of, std
        self.tasks = None

    def predictive(self, x_support, y_support, x_query):
        return self.mean_of(self.tasks, x_query), torch.full_like(x_query, self.std)

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        return self.predictive(x_support, y_support, x_query)[0].unsqueeze(0).expand(steps + 1, -1, -1, -1)


def _protocol_draws(family, num_tasks, num_query, seed):
    """The held-out tasks, query inputs and (noisy) query targets, drawn as the protocol does."""
    generator = make_generator(seed)
    tasks = family.sample_tasks(num_tasks, generator)
    x = family.sample_x(tasks, num_query, generator)
    y = family.truth(tasks, x)
    if family.noise_std > 0:
        y = y + family.noise_std * torch.randn(y.shape, generator=stream(Stream.EVALUATION_QUERY_NOISE, seed))
    return tasks, x, y


@pytest.mark.parametrize("noise_std", [0.0, 0.5])
def test_nll_and_coverage_equal_a_hand_computation(noise_std):
    stub = _Gaussian(lambda tasks, x: 0.3 * torch.sin(x) - 0.2, std=1.7, noise_std=noise_std)
    result = evaluate(stub, shots=(5, 10), steps=1, num_tasks=40, num_query=30, chunk=40)
    _, x, y = _protocol_draws(stub.family, 40, 30, EVALUATION_SEED)
    mean = 0.3 * torch.sin(x) - 0.2
    nll = -Normal(mean.to(F64), 1.7).log_prob(y.to(F64)).mean(dim=(1, 2))  # per task
    covered = ((y - mean).abs() <= 1.96 * 1.7).to(F64).mean(dim=(1, 2))
    for k in (5, 10):
        curve = result.curves[k]
        assert curve.nll == pytest.approx(nll.mean().item(), rel=1e-6)
        assert curve.nll_ci95 == pytest.approx(1.96 * nll.std().item() / math.sqrt(40), rel=1e-5)
        assert curve.coverage == pytest.approx(covered.mean().item(), abs=1e-12)
        assert curve.coverage_ci95 == pytest.approx(1.96 * covered.std().item() / math.sqrt(40), rel=1e-6)
    assert 0 < result.curves[5].coverage < 1  # the hand computation is not trivially all-in
    # JSON: the new fields are plain numbers.
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["curves"]["5"]["coverage"] == result.curves[5].coverage


def test_a_calibrated_predictor_covers_95_percent_of_noisy_targets():
    noise = 0.3
    stub = _Gaussian(lambda tasks, x: make_family().truth(tasks, x), std=noise, noise_std=noise)
    stub.tasks = stub.family.sample_tasks(600, make_generator(EVALUATION_SEED))  # what the protocol will draw
    result = evaluate(stub, shots=(5,), steps=0, num_tasks=600, chunk=600)
    points = 600 * 100
    tolerance = 4 * math.sqrt(0.95 * 0.05 / points)  # four binomial standard deviations (~0.0036)
    assert abs(result.curves[5].coverage - 0.95) < tolerance
    # The expected NLL of a calibrated Gaussian: 1/2 log(2 pi sigma^2) + 1/2.
    assert result.curves[5].nll == pytest.approx(0.5 * math.log(2 * math.pi * noise**2) + 0.5, abs=0.02)
    assert result.curves[5].mean[0] == 0.0  # the MSE is still scored against the noise-free truth


def test_learners_without_a_predictive_keep_their_formats():
    maml = evaluate(trained_learner("maml", iterations=3), shots=(5,), steps=1, num_tasks=6)
    assert maml.curves[5].nll is None and maml.curves[5].coverage is None
    assert "NLL" not in format_table(maml) and "NLL" not in format_markdown([maml])
    assert curves_csv([maml]).splitlines()[0] == ",".join(CSV_COLUMNS)
    assert table_rows([maml])[0][-1] == "step 1"
    assert json.loads(json.dumps(maml.to_dict(), allow_nan=False))["curves"]["5"]["nll"] is None


def test_reports_show_nll_and_coverage_only_where_defined():
    maml = evaluate(trained_learner("maml", iterations=3), shots=(5,), steps=1, num_tasks=6)
    alpaca = evaluate(trained_learner("alpaca", iterations=3), shots=(5,), steps=1, num_tasks=6)
    table = format_table(alpaca)
    assert "NLL" in table and "coverage" in table and "noise-free" in table
    header, rows = table_rows([maml, alpaca])
    assert header[-2:] == ["NLL", "95% coverage"]
    by_learner = {cells[0]: cells for cells, _ in rows if cells[1] == "5"}
    assert by_learner["maml"][-2:] == ["", ""] and "\u00b1" in by_learner["alpaca"][-1]
    markdown = format_markdown([maml, alpaca], columns=((5, 1),)).splitlines()
    assert markdown[0].endswith("| K=5, NLL | K=5, coverage |")
    assert all(line.count("|") == markdown[0].count("|") for line in markdown)
    csv_lines = curves_csv([maml, alpaca]).splitlines()
    assert csv_lines[0] == ",".join(CSV_COLUMNS + PREDICTIVE_COLUMNS)
    assert csv_lines[1].endswith(",,,,")  # maml: empty NLL and coverage cells
    assert float(csv_lines[-1].split(",")[-2]) == alpaca.curves[5].coverage
