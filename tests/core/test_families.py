"""The task families beyond the sinusoid, their options and the exact oracles.

Truths are checked against values written out by hand with ``math``; the GP oracle
against a Cholesky solve of the RBF posterior written here; statistics with tolerances
of several standard errors."""

import math

import pytest
import torch

from metaviz.config import TaskConfig, TrainConfig
from metaviz.jobs.evaluation import evaluate
from metaviz.oracle import OracleLearner, oracle_families
from metaviz.streams import make_generator
from metaviz.tasks import family_names, make_family

NEW = ("harmonic", "sinusoid_line", "multimodal3", "multimodal5", "gaussian_process", "step")


def family(name, noise=0.0, **options):
    return make_family(TaskConfig(family=name, noise_std=noise, options=tuple(options.items())))


def truth_at(name, params, xs, **options):
    """The family's truth for one task ``params`` at the points ``xs``, as floats."""
    tasks = torch.tensor([params], dtype=torch.float64)
    x = torch.tensor(xs, dtype=torch.float64).view(1, -1, 1)
    return family(name, **options).truth(tasks, x).view(-1).tolist()


def test_every_family_is_registered_and_only_gp_and_sinusoid_have_oracles():
    assert set(NEW) <= set(family_names())
    assert sorted(oracle_families()) == ["gaussian_process", "sinusoid"]


def test_harmonic_truth_by_hand():
    w, a1, a2, b1, b2 = 6.0, 1.2, -0.7, 0.3, 2.0
    xs = [-1.0, 0.0, 0.37]
    expected = [a1 * math.sin(w * x + b1) + a2 * math.sin(2 * w * x + b2) for x in xs]
    assert truth_at("harmonic", [w, a1, a2, b1, b2, 0.5], xs) == pytest.approx(expected, abs=1e-12)


def test_sinusoid_line_truth_by_hand_and_the_mode_threshold():
    amp, phase, slope, offset = 2.0, 0.5, -1.5, 0.8
    xs = [-4.0, 0.0, 2.5]
    sine = [amp * math.sin(x - phase) for x in xs]
    line = [slope * x + offset for x in xs]
    for mode, expected in ((0.0, sine), (0.49, sine), (0.5, line), (1.0, line)):
        assert truth_at("sinusoid_line", [mode, amp, phase, slope, offset], xs) == pytest.approx(expected, abs=1e-12)


def test_multimodal5_truth_by_hand_for_every_mode():
    amp, phase, slope, offset, centre, curvature = 3.0, 1.0, -2.0, 0.5, 1.5, 0.1
    xs = [-3.0, 1.5, 4.0]
    expected = {
        0: [amp * math.sin(x - phase) for x in xs],
        1: [slope * x + offset for x in xs],
        2: [-curvature * (x - centre) ** 2 + offset for x in xs],  # the slope is negative: opens downwards
        3: [slope * math.tanh(x - centre) + offset for x in xs],
        4: [slope * abs(x - centre) + offset for x in xs],
    }
    for mode, values in expected.items():
        params = [mode, amp, phase, slope, offset, centre, curvature]
        assert truth_at("multimodal5", params, xs) == pytest.approx(values, abs=1e-12)
    upward = truth_at("multimodal3", [2, amp, phase, 2.0, offset, centre, curvature], xs)
    assert upward == pytest.approx([curvature * (x - centre) ** 2 + offset for x in xs], abs=1e-12)


def test_step_truth_by_hand():
    # two jumps (the third place is ignored), given out of order along x: at 1.0 and at -2.0
    params = [2, 1.0, -2.0, 3.0, -1.0, 0.5, 2.0, 9.0]
    assert truth_at("step", params, [-3.0, -2.0, 0.0, 1.0, 2.0, 4.0]) == [-1.0, 0.5, 0.5, 2.0, 2.0, 2.0]
    assert truth_at("step", [3, *params[1:]], [4.0]) == [9.0]


@pytest.mark.parametrize("name", NEW)
def test_sampling_is_seed_deterministic_and_inside_the_declared_ranges(name):
    fam = family(name)
    a = fam.sample_batch(400, 5, 7, make_generator(4))
    b = fam.sample_batch(400, 5, 7, make_generator(4))
    c = fam.sample_batch(400, 5, 7, make_generator(5))
    for field in ("tasks", "x_support", "y_support", "x_query", "y_query"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.tasks, c.tasks)
    assert a.task_index is None and a.num_tasks == 400
    for i, p in enumerate(fam.parameters):
        low, high = fam.ranges[p.name]
        column = a.tasks[:, i]
        assert low <= column.min() and column.max() <= high, p.name
        if p.integer:
            assert torch.equal(column, column.round()) and column.unique().numel() == int(high - low) + 1
    for x in (a.x_support, a.x_query):
        assert fam.ranges["x"][0] <= x.min() and x.max() <= fam.ranges["x"][1]
    assert torch.allclose(a.y_query, fam.truth(a.tasks, a.x_query))  # noise-free by default


@pytest.mark.parametrize("name", [n for n in NEW if n != "gaussian_process"])
def test_y_bound_covers_the_truth(name):
    fam = family(name)
    tasks = fam.sample_tasks(500, make_generator(0))
    x = torch.linspace(*fam.ranges["x"], 300).view(1, -1, 1).expand(500, -1, -1)
    assert fam.truth(tasks, x).abs().max() <= fam.y_bound() + 1e-5


def test_label_noise_applies_to_every_new_family():
    for name in NEW:
        fam = family(name, noise=0.3)
        batch = fam.sample_batch(200, 20, 1, make_generator(1))
        residual = batch.y_support - fam.truth(batch.tasks, batch.x_support)
        assert residual.std().item() == pytest.approx(0.3, rel=0.05), name


def test_harmonic_inputs_concentrate_around_each_tasks_centre():
    fam = family("harmonic")
    tasks = fam.sample_tasks(300, make_generator(2))
    x = fam.sample_x(tasks, 200, make_generator(3))
    offsets = x.squeeze(-1) - tasks[:, 5:6]  # [300, 200]
    n = offsets.numel()
    assert abs(offsets.mean().item()) < 5 / math.sqrt(n)  # N(0, 1) around the centre
    assert offsets.std().item() == pytest.approx(1.0, abs=0.02)
    assert (offsets.abs() < 2).float().mean().item() == pytest.approx(0.9545, abs=0.01)
    # the per-task mean follows the task's centre across the whole centre range
    assert torch.allclose(x.squeeze(-1).mean(dim=1), tasks[:, 5], atol=0.4)


def test_sinusoid_line_is_half_lines_and_a_line_task_is_exactly_linear():
    fam = family("sinusoid_line")
    n = 4000
    tasks = fam.sample_tasks(n, make_generator(6))
    lines = (tasks[:, 0] == 1).float().mean().item()
    assert set(tasks[:, 0].unique().tolist()) == {0.0, 1.0}
    assert abs(lines - 0.5) < 4 * math.sqrt(0.25 / n)
    line = tasks[tasks[:, 0] == 1][:1].to(torch.float64)
    x = torch.linspace(-5, 5, 11, dtype=torch.float64).view(1, -1, 1)
    y = fam.truth(line, x).view(-1)
    slope, offset = line[0, 3].item(), line[0, 4].item()
    assert y.tolist() == pytest.approx([slope * v + offset for v in x.view(-1).tolist()], abs=1e-12)
    only_lines = make_family(TaskConfig(family="sinusoid_line", ranges=(("mode", 0.5, 1.0),)))
    assert (only_lines.sample_tasks(200, make_generator(0))[:, 0] == 1).all()


def test_multimodal_modes_are_equally_likely():
    for name, modes in (("multimodal3", 3), ("multimodal5", 5)):
        n = 6000
        counts = torch.bincount(family(name).sample_tasks(n, make_generator(7))[:, 0].long(), minlength=modes)
        p = 1 / modes
        assert (counts.float() / n - p).abs().max() < 4 * math.sqrt(p * (1 - p) / n), name


def test_an_integer_range_without_a_whole_number_is_refused():
    with pytest.raises(ValueError, match="mode range .* holds no whole number"):
        make_family(TaskConfig(family="multimodal3", ranges=(("mode", 0.2, 0.8),)))


# --- the Gaussian process ------------------------------------------------------------
def rbf(a, b, length, variance):
    return variance * torch.exp(-(a - b.transpose(1, 2)) ** 2 / (2 * length**2))


@pytest.mark.parametrize(("length", "variance", "noise"), [(1.0, 1.0, 0.1), (0.5, 2.0, 0.3), (2.0, 0.5, 0.05)])
def test_gp_oracle_matches_a_cholesky_solve_of_the_rbf_posterior(length, variance, noise):
    fam = family("gaussian_process", noise=noise, length_scale=length, variance=variance)
    batch = fam.sample_batch(6, 8, 30, make_generator(8))
    xs, ys, xq = (t.to(torch.float64) for t in (batch.x_support, batch.y_support, batch.x_query))
    for t in range(6):  # one task at a time, as written in a textbook
        k_ss = rbf(xs[t:t + 1], xs[t:t + 1], length, variance)[0] + noise**2 * torch.eye(8, dtype=torch.float64)
        k_qs = rbf(xq[t:t + 1], xs[t:t + 1], length, variance)[0]
        chol = torch.linalg.cholesky(k_ss)
        mean = k_qs @ torch.cholesky_solve(ys[t], chol)
        var = variance - (k_qs * torch.cholesky_solve(k_qs.T, chol).T).sum(dim=1) + noise**2
        got_mean, got_std = fam.oracle(xs[t:t + 1], ys[t:t + 1], xq[t:t + 1])
        assert torch.allclose(got_mean.view(-1), mean.view(-1), atol=1e-6, rtol=0)
        assert torch.allclose(got_std.view(-1), var.sqrt(), atol=1e-6, rtol=0)


def test_gp_oracle_without_noise_interpolates_the_support_points():
    fam = family("gaussian_process")
    batch = fam.sample_batch(4, 6, 5, make_generator(9))
    mean, std = fam.oracle(batch.x_support, batch.y_support, batch.x_support)
    assert torch.allclose(mean, batch.y_support, atol=1e-4) and std.max() < 1e-3


def test_gp_draws_have_the_rbf_covariance():
    length, variance = 0.8, 1.5
    fam = family("gaussian_process", length_scale=length, variance=variance)
    n = 20000
    tasks = fam.sample_tasks(n, make_generator(10))
    points = torch.tensor([-4.9, 0.0, 0.6, 4.9])
    y = fam.truth(tasks, points.view(1, -1, 1).expand(n, -1, -1)).squeeze(-1).to(torch.float64)
    expected = rbf(points.view(1, -1, 1).double(), points.view(1, -1, 1).double(), length, variance)[0]
    empirical = torch.cov(y.T)
    # standard error of a covariance estimate: sqrt((k_xx k_yy + k_xy^2) / n)
    se = ((expected.diagonal().view(-1, 1) * expected.diagonal().view(1, -1) + expected**2) / n).sqrt()
    assert ((empirical - expected).abs() <= 5 * se).all(), (empirical, expected)
    assert (y.mean(dim=0).abs() <= 5 * math.sqrt(variance / n)).all()


def test_a_gp_draw_is_one_function_whatever_the_batch_and_the_points():
    fam = family("gaussian_process")
    tasks = fam.sample_tasks(5, make_generator(11))
    x = torch.linspace(-5, 5, 50).view(1, -1, 1).expand(5, -1, -1)
    whole = fam.truth(tasks, x)
    assert torch.equal(fam.truth(tasks[3:4], x[:1]), whole[3:4])
    assert torch.allclose(fam.truth(tasks, x[:, ::7]), whole[:, ::7])
    assert torch.unique(whole[:, 0]).numel() == 5  # different draws, different functions


def test_gp_options_are_validated_and_written_out():
    fam = family("gaussian_process", length_scale=0.5)
    assert fam.option_values == {"length_scale": 0.5, "variance": 1.0}
    assert fam.config.options == (("length_scale", 0.5), ("variance", 1.0))
    assert make_family(fam.config).option_values == fam.option_values
    with pytest.raises(ValueError, match="length_scale must be between 0.1 and 5"):
        family("gaussian_process", length_scale=50.0)
    with pytest.raises(ValueError, match="no option 'width'; its options are length_scale, variance"):
        family("gaussian_process", width=1.0)
    with pytest.raises(ValueError, match="has no option 'length_scale'; it has none"):
        family("sinusoid", length_scale=1.0)


def test_task_options_round_trip_and_old_files_still_load():
    task = TaskConfig(family="gaussian_process").with_option("variance", 2.0).with_option("variance", 3.0)
    assert task.options == (("variance", 3.0),) and task.option("variance") == 3.0 and task.option("x") is None
    assert TaskConfig.from_dict(task.to_dict()) == task
    assert "options" not in TaskConfig().to_dict()  # files of option-less families read as before
    assert TaskConfig.from_dict({"family": "sinusoid", "ranges": {}, "noise_std": 0.0}) == TaskConfig()
    config = TrainConfig(task=task)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.with_changes(family="sinusoid").task == TaskConfig()  # another family drops the options
    for bad in ((("a", 1.0), ("a", 2.0)), (("a", math.nan),), (("a",),), (("a", 1e9),)):
        with pytest.raises(ValueError, match="option"):
            TaskConfig(options=bad)
    with pytest.raises(ValueError, match="options must be a mapping"):
        TaskConfig.from_dict({"options": [1]})


# --- the sinusoid oracle and the oracle learner ---------------------------------------
@pytest.mark.parametrize("shots", [2, 3, 5])
def test_sinusoid_oracle_recovers_the_truth_from_two_or_more_noise_free_points(shots):
    fam = family("sinusoid")
    generator = make_generator(12)
    tasks = fam.sample_tasks(50, generator).to(torch.float64)
    x_support = fam.sample_x(tasks, shots, generator).to(torch.float64)
    x_query = torch.linspace(-5, 5, 40, dtype=torch.float64).view(1, -1, 1).expand(50, -1, -1)
    amp, phase = tasks[:, :1, None], tasks[:, 1:, None]
    mean, std = fam.oracle(x_support, amp * torch.sin(x_support - phase), x_query)
    assert std is None
    assert torch.allclose(mean, amp * torch.sin(x_query - phase), atol=1e-6, rtol=0)


def test_the_oracle_learner_scores_about_zero_on_noise_free_sinusoids():
    learner = OracleLearner(make_family())
    assert (learner.kind, learner.label, learner.iteration) == ("oracle", "oracle", 0)  # best possible: per K
    result = evaluate(learner, shots=(5,), steps=3, num_tasks=100)
    assert result.learner == "oracle" and result.task["family"] == "sinusoid"
    assert max(result.curves[5].mean) < 1e-10


def test_the_gp_oracle_learner_is_predictive_and_constant_over_steps():
    fam = family("gaussian_process", noise=0.1)
    learner = OracleLearner(fam)
    batch = fam.sample_batch(3, 5, 9, make_generator(13))
    trajectory = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 4)
    mean, std = learner.predictive(batch.x_support, batch.y_support, batch.x_query)
    assert learner.has_predictive and trajectory.shape == (5, 3, 9, 1)
    assert all(torch.equal(step, mean) for step in trajectory)
    assert (std >= 0.1 - 1e-6).all()  # the noise is part of the spread
    errors = evaluate(learner, shots=(5, 20), steps=1, num_tasks=200).curves
    assert errors[20].mean[0] < errors[5].mean[0] < fam.prior_variance  # more points, closer; < the prior


def test_a_family_without_an_oracle_has_no_oracle_learner():
    assert family("step").oracle(torch.zeros(1, 2, 1), torch.zeros(1, 2, 1), torch.zeros(1, 3, 1)) is None
    with pytest.raises(ValueError, match="the step family has no exact oracle"):
        OracleLearner(family("step"))
    with pytest.raises(NotImplementedError):
        OracleLearner(make_family()).predictive(torch.zeros(1, 2, 1), torch.zeros(1, 2, 1), torch.zeros(1, 3, 1))


# --- reproduce presets -----------------------------------------------------------------
def test_the_paper_preset_is_unchanged_and_the_multimodal_one_trains_on_multimodal3():
    from metaviz.jobs.reproduce import PAPER_PRESET, PRESETS

    paper = PRESETS["paper"]
    assert paper.learner_names() == PAPER_PRESET and paper.task == TaskConfig() and not paper.oracle
    multimodal = PRESETS["multimodal"]
    assert multimodal.task.family == "multimodal3" and multimodal.oracle
    assert multimodal.learner_names()[:2] == ("maml", "multitask")


def test_reproduce_adds_the_oracle_row_for_a_family_that_has_one(tmp_path):
    import json

    from metaviz.jobs.events import drain
    from metaviz.jobs.reproduce import reproduce_job

    runs = drain(reproduce_job(tmp_path, learners=("maml",), iterations=3, num_tasks=20,
                               train_task=TaskConfig(family="gaussian_process", noise_std=0.1), oracle=True))
    assert [run.learner for run in runs] == ["maml"]  # the oracle is a row, not a trained run
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [row["learner"] for row in rows] == ["maml", "oracle"] and rows[1]["checkpoint"] is None
    assert all(row["task"]["family"] == "gaussian_process" and row["task"]["noise_std"] == 0.1 for row in rows)
    # Exact under noise: the GP posterior is the best possible answer at every K.
    assert "| oracle (best possible) | metaviz, 0 it., nothing trained |" in (tmp_path / "table.md").read_text()
    assert rows[1]["curves"]["20"]["mean"][0] < rows[0]["curves"]["20"]["mean"][-1]  # nothing beats the posterior
