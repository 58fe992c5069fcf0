"""Uncertainty you can see: the +-2 std band of a predictive learner in Explore and
Compare (the learner's own predictive, tightening where the user clicks), function
samples only where a joint posterior exists, and why a learner's steps are flat."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from metaviz.task_history import TaskHistory
from metaviz.tasks.sinusoid import Sinusoid
from metaviz.ui.compare_view import CompareView
from metaviz.ui.plot_parts import legend_labels
from tests.helpers import trained_learner

from .conftest import TIMEOUT
from .test_tasks import _click

BAND = "predictive mean \u00b1 2 std"


def _points(values):
    return torch.as_tensor(np.asarray(values), dtype=torch.float32).view(1, -1, 1)


def _drawn(qtbot, window, check):
    """Wait until the explore view has drawn a state for which ``check()`` holds."""
    window.explore.mark_dirty()
    qtbot.waitUntil(check, timeout=TIMEOUT)


def test_explore_draws_the_learners_own_band_and_it_tightens_where_you_click(qtbot, open_window, tiny):
    window = open_window(tiny(learner="alpaca"))
    explore, plot, model = window.explore, window.explore.task_plot, window.model
    explore.draw_now()
    view, sample = explore.view, model.history.current
    mean, std = model.display_learner().predictive(_points(sample.x_support), _points(sample.y_support),
                                                   _points(view.x))
    np.testing.assert_allclose(view.mean, mean.flatten().numpy(), atol=1e-6)
    np.testing.assert_allclose(view.std, std.flatten().numpy(), atol=1e-6)
    assert plot.band.band_shown and plot.band.mean.isVisible()
    np.testing.assert_allclose(plot.band.lower.getData()[1], view.mean - 2 * view.std)
    np.testing.assert_allclose(plot.band.upper.getData()[1], view.mean + 2 * view.std)
    assert BAND in legend_labels(plot.legend)
    # Two points on the left; then a real click at x = 3, where the learner has seen nothing.
    model.edit_task(sample.cleared().with_point(-4.0, 1.0).with_point(-3.0, 0.5))
    _drawn(qtbot, window, lambda: plot.support.data.size == 2)
    before = explore.view
    _click(qtbot, window, 3.0, 0.0)
    _drawn(qtbot, window, lambda: plot.support.data.size == 3)
    added = model.history.current.x_support[-1]
    where = int(np.argmin(np.abs(before.x - added)))
    assert abs(added - 3.0) < 0.2
    assert explore.view.std[where] < before.std[where]
    assert plot.band.upper.getData()[1][where] - plot.band.lower.getData()[1][where] < 4 * before.std[where]


def test_function_samples_on_the_toggle_for_a_joint_posterior(qtbot, open_window, tiny):
    window = open_window(tiny(learner="alpaca"))
    panel, plot = window.task_panel, window.explore.task_plot
    assert panel.show_samples.isEnabled() and not panel.show_samples.isChecked()
    window.explore.draw_now()
    assert plot.band.samples_shown == 0
    panel.show_samples.setChecked(True)
    _drawn(qtbot, window, lambda: plot.band.samples_shown == 5)
    view = window.explore.view
    assert view.samples.shape == (5, len(view.x))
    for curve, expected in zip(plot.band.samples, view.samples):
        np.testing.assert_allclose(curve.getData()[1], expected)
    assert not np.allclose(view.samples[0], view.samples[1])  # five different functions
    assert "5 function samples" in legend_labels(plot.legend)
    panel.show_samples.setChecked(False)
    _drawn(qtbot, window, lambda: plot.band.samples_shown == 0)
    assert not any("function samples" in label for label in legend_labels(plot.legend))


def test_flat_learners_say_why_and_the_cnp_has_no_samples(qtbot, open_window, tiny):
    window = open_window(tiny(learner="alpaca"))
    model, panel, plot = window.model, window.task_panel, window.explore.task_plot
    model.set_adaptation(steps=5)
    panel.show_steps.setChecked(True)
    _drawn(qtbot, window, lambda: window.explore.view.trajectory.shape[0] == 6)
    labels = legend_labels(plot.legend)
    assert "after 5 steps (closed-form posterior: no gradient steps)" in labels
    assert not any(curve.isVisible() for curve in plot.ramp)  # the same curve at every step: no ramp
    model.switch_learner("cnp")
    assert not panel.show_samples.isEnabled()
    assert "not a distribution over whole functions" in panel.show_samples.toolTip()
    _drawn(qtbot, window, lambda: "after 5 steps (neural process: no gradient steps at test time)"
           in legend_labels(plot.legend))
    assert plot.band.band_shown and BAND in legend_labels(plot.legend)
    panel.show_samples.setChecked(True)  # disabled: a programmatic check draws nothing
    _drawn(qtbot, window, lambda: window.explore.view.samples is None)
    assert plot.band.samples_shown == 0
    model.switch_learner("maml")
    assert "no predictive distribution" in panel.show_samples.toolTip()
    _drawn(qtbot, window, lambda: "after 5 steps" in legend_labels(plot.legend))
    assert not plot.band.band_shown and BAND not in legend_labels(plot.legend)
    assert sum(curve.isVisible() for curve in plot.ramp) == 4  # MAML's steps move: steps 1-4 on the ramp


@pytest.fixture
def compare(qtbot):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.set_learners({"ALPaCA": trained_learner("alpaca", 10), "CNP": trained_learner("cnp", 10),
                         "MAML": trained_learner("maml", 10)})
    widget.set_task(TaskHistory(Sinusoid(), 0).new_random(5))
    widget.redraw()
    return widget


def test_compare_draws_a_band_per_predictive_learner_and_says_why_steps_are_flat(qtbot, compare):
    panes = compare._panes
    for name in ("ALPaCA", "CNP"):
        view, band = compare.views[name], panes[name].band
        assert band.band_shown
        np.testing.assert_allclose(band.lower.getData()[1], view.mean - 2 * view.std)
        mean, _ = compare.learners[name].predictive(_points(compare.sample.x_support),
                                                    _points(compare.sample.y_support), _points(view.x))
        np.testing.assert_allclose(band.mean.getData()[1], mean.flatten().numpy(), atol=1e-6)
    assert not panes["MAML"].band.band_shown
    assert "closed-form posterior: no gradient steps" in panes["ALPaCA"].item.titleLabel.text
    assert "neural process: no gradient steps at test time" in panes["CNP"].item.titleLabel.text
    assert "flat" not in panes["MAML"].item.titleLabel.text
    assert BAND in legend_labels(compare.legend)
    # Samples: enabled because ALPaCA has a joint posterior; the tooltip says why the CNP has none.
    assert compare.show_samples.isEnabled() and "CNP gives a mean and a spread" in compare.show_samples.toolTip()
    compare.show_samples.setChecked(True)
    qtbot.waitUntil(lambda: panes["ALPaCA"].band.samples_shown == 5, timeout=TIMEOUT)
    assert panes["CNP"].band.samples_shown == 0 and panes["MAML"].band.samples_shown == 0
    np.testing.assert_allclose(panes["ALPaCA"].band.samples[2].getData()[1], compare.views["ALPaCA"].samples[2])


def test_compare_overlay_draws_each_band_in_the_learners_colour(qtbot, compare):
    compare.overlay.setChecked(True)
    bands = compare._overlay_bands
    assert bands["ALPaCA"].band_shown and bands["CNP"].band_shown and not bands["MAML"].band_shown
    fill = bands["CNP"].fill.brush().color()
    assert fill.name() == compare.colours["CNP"].lower() and 0 < fill.alpha() < 255
    labels = legend_labels(compare._overlay_legend)
    assert any(label.startswith("ALPaCA: MSE pre") and "closed-form posterior" in label for label in labels)


def test_the_curves_csv_holds_the_band_as_drawn(qtbot, open_window, tiny, tmp_path):
    window = open_window(tiny(learner="alpaca"))
    window.explore.draw_now()
    assert window.files.export_curves(tmp_path / "curves.csv")
    with open(tmp_path / "curves.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][-2:] == ["predictive_mean", "predictive_std"]
    table = np.array(rows[1:], dtype=float)
    band = window.explore.task_plot.band
    np.testing.assert_allclose(table[:, -2] - 2 * table[:, -1], band.lower.getData()[1])
    np.testing.assert_allclose(table[:, -2] + 2 * table[:, -1], band.upper.getData()[1])


def test_evaluate_says_why_a_steps_curve_is_flat(qtbot):
    from metaviz.ui.evaluation_view import EvaluationView

    from .test_figures import fake_result

    view = EvaluationView()
    qtbot.addWidget(view)
    view.set_learners({"ALPaCA": trained_learner("alpaca", 2), "CNP": trained_learner("cnp", 2),
                       "MAML": trained_learner("maml", 2)})
    view.set_results([fake_result(name) for name in ("ALPaCA", "CNP", "MAML")])
    assert legend_labels(view.figure.legend)[:3] == ["ALPaCA (flat: closed-form posterior: no gradient steps)",
                                                 "CNP (flat: neural process: no gradient steps at test time)", "MAML"]
    view.close()
