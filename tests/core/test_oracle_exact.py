"""When a family's oracle is the best possible answer, and the name it goes by everywhere.

The declarations are checked against the claim they make: where the sinusoid family says
its least squares is not exact, an estimator written here (the posterior mean under the
family's prior, summed over a grid of amplitudes and phases) beats it on the same points;
where it says it is exact, least squares returns the truth (tests/core/test_families.py)."""

import math

import pytest
import torch

from metaviz.config import TaskConfig
from metaviz.jobs.evaluation import evaluate
from metaviz.oracle import BEST_POSSIBLE, OracleLearner, oracle_name
from metaviz.report import format_markdown, format_table, table_rows
from metaviz.streams import make_generator
from metaviz.tasks import TaskFamily, make_family
from metaviz.tasks.gaussian_process import GaussianProcess
from metaviz.tasks.sinusoid import Sinusoid
from metaviz.tasks.step import Step

LEAST_SQUARES = "least squares"


class Undeclared(TaskFamily):
    """A family with an oracle that says nothing about when it is exact (as a plugin might)."""

    name = "undeclared"
    label = "sinusoids, undeclared"
    parameters = Sinusoid.parameters
    truth = Sinusoid.truth
    oracle = Sinusoid.oracle


@pytest.mark.parametrize("shots, noise, exact", [(5, 0.0, True), (2, 0.0, True), (5, 0.3, False),
                                                 (1, 0.0, False), (1, 0.3, False), (20, 1e-9, False)])
def test_the_sinusoid_oracle_is_exact_only_from_two_noise_free_points(shots, noise, exact):
    assert Sinusoid.oracle_exact(shots, noise) is exact
    assert make_family(TaskConfig(noise_std=noise)).oracle_exact(shots, noise) is exact  # instances answer alike
    assert oracle_name(Sinusoid, shots, noise) == (BEST_POSSIBLE if exact else LEAST_SQUARES)


@pytest.mark.parametrize("shots, noise", [(1, 0.0), (5, 0.0), (5, 0.3), (20, 1.0)])
def test_the_gp_oracle_is_always_exact(shots, noise):
    assert GaussianProcess.oracle_exact(shots, noise)
    assert oracle_name(GaussianProcess, shots, noise) == BEST_POSSIBLE


def test_a_family_that_does_not_declare_is_not_called_best_possible():
    assert Undeclared.has_oracle() and not Undeclared.oracle_exact(5, 0.0)
    assert oracle_name(Undeclared, 5, 0.0) == "family's oracle"
    assert not Step.has_oracle() and not Step.oracle_exact(5, 0.0)


def _grid_posterior_mean(x_support, y_support, x_query, noise_std, size=300):
    """The posterior mean [T, Q] of A sin(x - phase) under A ~ U[0.1, 5], phase ~ U[0, pi]
    (the family's prior), Gaussian likelihood of std ``noise_std``, summed over a
    ``size`` x ``size`` grid of midpoints. ``x_support``, ``y_support`` [T, K]; ``x_query`` [Q]."""
    amplitude = 0.1 + (torch.arange(size, dtype=torch.float64) + 0.5) * (4.9 / size)
    phase = (torch.arange(size, dtype=torch.float64) + 0.5) * (math.pi / size)
    amplitude, phase = (t.reshape(-1) for t in torch.meshgrid(amplitude, phase, indexing="ij"))
    at_support = amplitude[:, None] * torch.sin(x_support[:, None, :] - phase[:, None])  # [T, G, K]
    log_likelihood = -((at_support - y_support[:, None, :]) ** 2).sum(-1) / (2 * noise_std**2)
    weights = torch.softmax(log_likelihood, dim=1)  # [T, G]: a uniform prior on the grid
    return weights @ (amplitude[:, None] * torch.sin(x_query[None, :] - phase[:, None]))


@pytest.mark.parametrize("shots, noise, likelihood_std", [(1, 0.0, 0.05), (3, 1.0, 1.0)])
def test_where_the_sinusoid_oracle_is_not_exact_the_posterior_mean_beats_it(shots, noise, likelihood_std):
    """One point (any width of likelihood makes a fair estimator from it) or label noise:
    least squares ignores the prior, and an estimator that uses it is clearly closer."""
    family = make_family(TaskConfig(noise_std=noise))
    assert not family.oracle_exact(shots, noise)
    generator = make_generator(3)
    tasks = family.sample_tasks(100, generator).to(torch.float64)
    x_support = family.sample_x(tasks, shots, generator).to(torch.float64)
    y_support = family.observe(tasks, x_support, generator).to(torch.float64)
    x_query = torch.linspace(-5.0, 5.0, 50, dtype=torch.float64)
    truth = tasks[:, :1] * torch.sin(x_query - tasks[:, 1:])
    least_squares, _ = family.oracle(x_support, y_support, x_query.view(1, -1, 1).expand(100, -1, -1))
    posterior = _grid_posterior_mean(x_support[..., 0], y_support[..., 0], x_query, likelihood_std)
    oracle_mse = (least_squares[..., 0] - truth).pow(2).mean().item()
    posterior_mse = (posterior - truth).pow(2).mean().item()
    assert posterior_mse < 0.8 * oracle_mse  # measured: 1.31 vs 1.97 (K=1), 0.60 vs 2.02 (K=3, noise 1)


# --- the names in the text reports (the Evaluate table, reproduce's table.md, the CLI) -------
def _oracle_result(noise=0.0, family="sinusoid", shots=(1, 5)):
    family = make_family(TaskConfig(family=family, noise_std=noise))
    return evaluate(OracleLearner(family), shots=shots, steps=1, num_tasks=20)


def _names_by_k(result):
    """The window table's method cell per K for the oracle's rows (the published rows left out)."""
    return {cells[1]: cells[0] for cells, _ in table_rows([result])[1] if not cells[0].endswith("(published)")}


def test_the_table_names_the_oracle_per_k_as_its_family_declares():
    assert _names_by_k(_oracle_result()) == {"1": f"oracle ({LEAST_SQUARES})", "5": f"oracle ({BEST_POSSIBLE})"}
    assert _names_by_k(_oracle_result(noise=0.3)) == {"1": f"oracle ({LEAST_SQUARES})",
                                                      "5": f"oracle ({LEAST_SQUARES})"}
    assert _names_by_k(_oracle_result(0.1, "gaussian_process")) == {"1": f"oracle ({BEST_POSSIBLE})",
                                                                    "5": f"oracle ({BEST_POSSIBLE})"}


def test_markdown_and_the_cli_table_name_the_oracle_with_its_ks_where_they_differ():
    result = _oracle_result()
    mixed = f"oracle ({LEAST_SQUARES} at K=1; {BEST_POSSIBLE} at K=5)"
    assert f"| {mixed} | metaviz, 0 it. |" in format_markdown([result], columns=((1, 1), (5, 1)))
    assert f"| oracle ({BEST_POSSIBLE}) | metaviz, 0 it. |" in format_markdown([result], columns=((5, 1),))
    assert format_table(result).startswith(f"{mixed} after 0 iterations;")
    noisy = _oracle_result(noise=0.3, shots=(5,))
    assert format_table(noisy).startswith(f"oracle ({LEAST_SQUARES}) after 0 iterations;")
    assert BEST_POSSIBLE not in format_markdown([noisy])


def test_reproduce_names_a_noisy_sinusoid_oracle_as_least_squares(tmp_path):
    from metaviz.jobs.events import drain
    from metaviz.jobs.reproduce import reproduce_job

    drain(reproduce_job(tmp_path, learners=("maml",), iterations=3, num_tasks=20,
                        train_task=TaskConfig(noise_std=0.3), oracle=True))
    row = next(line for line in (tmp_path / "table.md").read_text().splitlines() if line.startswith("| oracle"))
    assert row.startswith(f"| oracle ({LEAST_SQUARES}) | metaviz, 0 it., nothing trained |")
    assert "exact" not in row and BEST_POSSIBLE not in row
