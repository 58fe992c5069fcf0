"""What the task plot draws, without Qt: the predictive band (as the learner's own
predictive says, tightening where a point is added), the plot grid of each family, why
a learner's steps are flat, the best possible answer, and tasks drawn by hand."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from metaviz.adaptation import adapt_view, grid_for, oracle_available, oracle_view, steps_note
from metaviz.config import TaskConfig
from metaviz.explorer import Explorer
from metaviz.learners import default_config, make_learner
from metaviz.task_history import DrawnCurve, TaskHistory
from metaviz.tasks import make_family
from tests.helpers import trained_learner

ROOT = Path(__file__).resolve().parents[2]


def _history(family="sinusoid", seed=0, **task):
    return TaskHistory(make_family(TaskConfig(family=family, **task)), seed)


@pytest.mark.parametrize("kind", ["alpaca", "cnp", "multitask"])
def test_the_band_is_the_learners_own_predictive_on_the_grid(kind):
    learner = trained_learner(kind, iterations=10)
    sample = _history().new_random(5)
    view = adapt_view(learner, sample, 2, None)
    x = torch.as_tensor(view.x, dtype=torch.float32).view(1, -1, 1)
    mean, std = learner.predictive(torch.as_tensor(sample.x_support, dtype=torch.float32).view(1, -1, 1),
                                   torch.as_tensor(sample.y_support, dtype=torch.float32).view(1, -1, 1), x)
    np.testing.assert_allclose(view.mean, mean.flatten().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(view.std, std.flatten().numpy(), rtol=0, atol=1e-6)
    assert view.samples is None  # none asked for


@pytest.mark.parametrize("kind", ["alpaca", "multitask"])
def test_the_band_tightens_where_a_point_is_added(kind):
    learner = trained_learner(kind, iterations=30)
    sample = _history().new_random(5)
    sample = sample.cleared().with_point(-4.0, 1.0).with_point(-3.0, 0.5)  # nothing near x = 3
    before = adapt_view(learner, sample, 1, None)
    where = int(np.argmin(np.abs(before.x - 3.0)))
    after = adapt_view(learner, sample.with_point(float(before.x[where]), float(before.truth[where])), 1, None)
    assert after.std[where] < before.std[where]
    # Exactly as Bayesian linear regression says: the variance of f at x (the std^2 less the
    # label noise nv the learner expects) goes from v to v nv / (v + nv) by a point at x.
    noise_var = learner.noise_var().item() if kind == "alpaca" else learner.prior().noise_var
    v = before.std[where] ** 2 - noise_var
    assert after.std[where] ** 2 - noise_var == pytest.approx(v * noise_var / (v + noise_var), rel=1e-3)
    far = int(np.argmin(np.abs(before.x + 4.0)))  # where there already was a point: little changes
    assert after.std[far] <= before.std[far] + 1e-6


def test_function_samples_only_where_a_joint_posterior_exists():
    sample = _history().new_random(5)
    assert adapt_view(trained_learner("alpaca", 5), sample, 1, None, samples=5).samples.shape == (5, 200)
    assert adapt_view(trained_learner("cnp", 5), sample, 1, None, samples=5).samples is None
    assert adapt_view(make_learner(default_config("maml")), sample, 1, None, samples=5).mean is None


def test_the_grid_follows_the_family():
    assert len(grid_for(make_family(TaskConfig(family="sinusoid")))) == 200
    harmonic = make_family(TaskConfig(family="harmonic"))
    x = grid_for(harmonic)
    # Up to 14 rad per unit: at least 20 points in every period of the fastest harmonic.
    assert x[0] == -8 and x[-1] == 8 and (2 * np.pi / 14) / (x[1] - x[0]) >= 20
    learner = make_learner(default_config("maml", task=harmonic.config))
    assert adapt_view(learner, TaskHistory(harmonic, 0).new_random(5), 1, None).trajectory.shape == (2, len(x))


def test_flat_learners_say_why_from_their_declaration():
    notes = {kind: steps_note(make_learner(default_config(kind))) for kind in ("maml", "alpaca", "cnp", "multitask")}
    assert notes["maml"] == "" and notes["multitask"] == ""  # CG steps on the head are steps
    assert "closed-form posterior" in notes["alpaca"] and "neural process" in notes["cnp"]
    spec = importlib.util.spec_from_file_location("ridge_note", ROOT / "resources/plugins/linear_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not module.RidgeFeatures.gradient_steps and "closed-form" in module.RidgeFeatures.steps_note

    class Undeclared:
        gradient_steps = False

    assert steps_note(Undeclared()) == "no gradient steps"
    view = adapt_view(trained_learner("alpaca", 5), _history().new_random(5), 3, None)
    assert "closed-form" in view.note and np.array_equal(view.trajectory[1], view.trajectory[3])


def test_random_task_labels_are_the_truth_in_float64():
    sample = _history(seed=3).new_random(10)
    assert np.abs(sample.y_support - sample.truth(sample.x_support)).max() < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_the_sinusoid_oracle_is_the_truth_from_two_points(seed):
    sample = _history(seed=seed).new_random(5)
    for shots in (2, 5):
        points = sample.cleared()
        for x, y in zip(sample.x_support[:shots], sample.y_support[:shots]):
            points = points.with_point(x, y)
        oracle = oracle_view(points)
        x = grid_for(sample.family)
        assert oracle.std is None
        np.testing.assert_allclose(oracle.mean, sample.truth(x), rtol=0, atol=1e-6)
        assert oracle.mse < 1e-12


def test_the_gp_oracle_has_a_band_that_pinches_at_the_points():
    sample = _history("gaussian_process", noise_std=0.0).new_random(4)
    oracle = oracle_view(sample)
    x = grid_for(sample.family)
    near = [int(np.argmin(np.abs(x - xs))) for xs in sample.x_support]
    assert oracle.std is not None and oracle.std[near].max() < 0.1 * oracle.std.max()


def test_where_there_is_no_best_possible_answer_it_says_why():
    assert "no exact best possible" in oracle_available(_history("multimodal3").new_random(5))
    assert "add a point" in oracle_available(_history().new_random(5).cleared())
    drawn = _history().draw([-3, 3], [0, 1], 5)
    assert "drawn task" in oracle_available(drawn) and oracle_view(drawn) is None


# --- drawing the truth ---------------------------------------------------------------------
def test_a_stroke_becomes_a_sorted_clipped_piecewise_linear_curve():
    curve = DrawnCurve.from_stroke([2.0, -1.0, 9.0, 2.0, 0.0], [1.0, 3.0, 5.0, 3.0, 0.0], (-5.0, 5.0))
    assert curve.x.tolist() == [-1.0, 0.0, 2.0, 5.0]  # sorted, 9 clipped to the range
    assert curve.y.tolist() == [3.0, 0.0, 2.0, 5.0]  # two points at x = 2: their mean
    # Linear between the drawn points (written out), nan outside them.
    expected = [np.nan, 3.0, 1.5, 1.0, 2.0 + 3.0 * (3.5 - 2.0) / 3.0, np.nan]
    np.testing.assert_allclose(curve(np.array([-2.0, -1.0, -0.5, 1.0, 3.5, 5.5])), expected)
    for xs, ys, match in (([1.0, 1.0], [0.0, 1.0], "two distinct"), ([7.0, 8.0], [0.0, 1.0], "two distinct"),
                          ([0.0, 1.0], [0.0], "same length"), ([0.0, np.nan], [0.0, 1.0], "finite")):
        with pytest.raises(ValueError, match=match):
            DrawnCurve.from_stroke(xs, ys, (-5.0, 5.0))


def test_a_drawn_task_samples_its_points_on_the_curve_and_keeps_it():
    history = _history()
    history.new_random(5)
    sample = history.draw([-2.0, 0.0, 3.0], [1.0, -1.0, 2.0], 7)
    assert sample.params == () and sample.shots == 7 and len(history) == 2
    for x, y in ((sample.x_support, sample.y_support), (sample.x_query, sample.y_query)):
        assert ((x >= -2.0) & (x <= 3.0)).all()
        np.testing.assert_allclose(y, np.interp(x, [-2.0, 0.0, 3.0], [1.0, -1.0, 2.0]))
    again = history.resample(4)
    assert again.drawn is sample.drawn and again.shots == 4 and not np.allclose(again.x_support, sample.x_support[:4])
    assert history.current.with_task((2.0, 1.0)).drawn is None  # a hand-made task replaces it
    noisy = _history(noise_std=0.3).draw([-2.0, 3.0], [0.0, 0.0], 200)
    assert 0.2 < noisy.y_support.std() < 0.4  # the family's label noise on the drawn truth


class _IdleRunner:
    running = False

    def start(self, *args):
        raise AssertionError("nothing trains here")

    def stop(self):
        pass


def test_the_explorer_adapts_every_learner_to_a_drawn_truth():
    model = Explorer(default_config("maml", iterations=1), _IdleRunner())
    seen = []
    model.events.task.connect(lambda: seen.append(model.history.current))
    model.draw_truth([-4.0, 0.0, 4.0], [-2.0, 2.0, -2.0])
    sample = model.history.current
    assert seen == [sample] and sample.drawn is not None and sample.shots == model.config.shots
    view = model.adaptation_view()
    inside = (view.x >= -4.0) & (view.x <= 4.0)
    np.testing.assert_allclose(view.truth[inside], np.interp(view.x[inside], [-4, 0, 4], [-2, 2, -2]))
    assert np.isnan(view.truth[~inside]).all() and np.isfinite(view.pre_mse)
    assert model.oracle_view() is None
    model.new_task()
    assert model.history.current.drawn is None and model.oracle_view() is not None
    with pytest.raises(ValueError):
        model.draw_truth([1.0], [1.0])
