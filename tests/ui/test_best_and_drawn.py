"""The family's oracle beside the learners (Explore, Compare, Evaluate), called the best
possible answer only where its family declares it exact, and drawing the truth by hand:
with the model's method and with a real mouse drag on the plot."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, Qt

from metaviz.adaptation import oracle_view
from metaviz.config import TaskConfig
from metaviz.ui.plot_parts import legend_labels

from .conftest import TIMEOUT
from .test_uncertainty import _drawn

BEST = "best possible from these points"
LEAST_SQUARES = "least squares from these points"  # the sinusoids' oracle where it is not exact


def _window_on(open_window, tiny, family, **task):
    config = tiny()
    return open_window(config.with_changes(task=TaskConfig(family=family, **task)))


def test_explore_draws_the_best_possible_answer_and_its_mse(qtbot, window):
    plot, panel, sample = window.explore.task_plot, window.task_panel, window.model.history.current
    assert sample.shots >= 2 and panel.show_oracle.isEnabled() and panel.show_oracle.isChecked()
    window.explore.draw_now()
    x, drawn = plot.oracle.mean.getData()
    assert plot.oracle.mean.isVisible() and not plot.oracle.band_shown  # sinusoids: a mean, no spread
    np.testing.assert_allclose(drawn, sample.truth(x), rtol=0, atol=1e-6)  # two points fix a sinusoid
    assert BEST in legend_labels(plot.legend)
    assert ", best possible " in plot.title_text and window.explore.oracle.mse < 1e-12
    panel.show_oracle.setChecked(False)
    _drawn(qtbot, window, lambda: not plot.oracle.mean.isVisible())
    assert BEST not in legend_labels(plot.legend) and "best possible" not in plot.title_text
    panel.show_oracle.setChecked(True)
    window.model.edit_task(sample.cleared().with_point(1.0, 2.0))  # one point: not enough to fix it
    _drawn(qtbot, window, lambda: plot.oracle.mean.isVisible() and plot.support.data.size == 1)
    assert window.explore.oracle.mse > 1e-3
    # Not exact from one point: named for what it computes, in the legend and the title.
    labels = legend_labels(plot.legend)
    assert LEAST_SQUARES in labels and BEST not in labels and "best possible" not in plot.title_text
    assert ", least squares " in plot.title_text
    window.model.edit_task(window.model.history.current.with_point(-2.0, 0.5))
    _drawn(qtbot, window, lambda: plot.support.data.size == 2)
    assert BEST in legend_labels(plot.legend) and LEAST_SQUARES not in legend_labels(plot.legend)


def test_under_label_noise_the_sinusoid_oracle_is_not_called_best_possible(qtbot, open_window, tiny):
    window = _window_on(open_window, tiny, "sinusoid", noise_std=0.3)
    plot = window.explore.task_plot
    window.explore.draw_now()
    assert window.model.history.current.shots >= 2 and plot.oracle.mean.isVisible()
    labels = legend_labels(plot.legend)
    assert LEAST_SQUARES in labels and BEST not in labels
    assert ", least squares " in plot.title_text and "best possible" not in plot.title_text
    assert plot.oracle.mean.name() == LEAST_SQUARES  # the CSV export's column is named alike


def test_the_title_is_set_only_when_its_text_changes(qtbot, window, monkeypatch):
    """Setting a title lays the plot out again: a frame whose numbers did not change must
    not pay for it (training repaints up to 5 frames a second)."""
    plot, model = window.explore.task_plot, window.model
    item = plot.getPlotItem()
    texts = []
    set_title = item.setTitle
    monkeypatch.setattr(item, "setTitle", lambda text, **style: (texts.append(text), set_title(text, **style)))
    model.edit_task(model.history.current.cleared().with_point(1.0, 2.0).with_point(-2.0, 0.5))
    window.explore.draw_now()
    window.explore.draw_now()  # the same task and learner: the same numbers
    assert len(texts) == 1 and "K = 2 points" in texts[0] and item.titleLabel.text == plot.title_text == texts[0]
    model.edit_task(model.history.current.with_point(3.0, -1.0))  # new numbers
    window.explore.draw_now()
    assert len(texts) == 2 and "K = 3 points" in texts[1] and item.titleLabel.text == texts[1]


def test_the_gp_oracle_is_drawn_with_its_band(qtbot, open_window, tiny):
    window = _window_on(open_window, tiny, "gaussian_process", noise_std=0.3)  # exact under noise too
    plot = window.explore.task_plot
    window.explore.draw_now()
    expected = oracle_view(window.model.history.current)
    assert plot.oracle.band_shown and expected.std is not None
    np.testing.assert_allclose(plot.oracle.upper.getData()[1], expected.mean + 2 * expected.std)
    assert f"{BEST} \u00b1 2 std" in legend_labels(plot.legend)


def test_without_an_exact_oracle_the_toggle_says_why(qtbot, open_window, tiny):
    window = _window_on(open_window, tiny, "multimodal3")
    window.explore.draw_now()
    panel = window.task_panel
    assert not panel.show_oracle.isEnabled() and "no exact best possible answer" in panel.show_oracle.toolTip()
    assert not window.explore.task_plot.oracle.mean.isVisible() and window.explore.oracle is None


def _trained_compare(qtbot, window, wait_state):
    window.model.set_budget(3)
    window.model.start()
    wait_state(window, "done")
    compare = window.session.compare
    window.session.show_tab(compare)
    qtbot.waitUntil(lambda: set(compare.views) == {"MAML"}, timeout=TIMEOUT)
    return compare


def test_compare_draws_the_best_possible_answer_in_every_pane(qtbot, window, wait_state):
    compare = _trained_compare(qtbot, window, wait_state)
    pane = compare._panes["MAML"]
    x, drawn = pane.oracle.mean.getData()
    np.testing.assert_allclose(drawn, window.model.history.current.truth(x), rtol=0, atol=1e-6)
    assert any(label.startswith(f"{BEST} (MSE ") for label in legend_labels(compare.legend))
    compare.show_oracle.setChecked(False)
    qtbot.waitUntil(lambda: not pane.oracle.mean.isVisible(), timeout=TIMEOUT)
    assert compare.oracle is None
    compare.overlay.setChecked(True)
    compare.show_oracle.setChecked(True)
    qtbot.waitUntil(lambda: compare._overlay_oracle.mean.isVisible(), timeout=TIMEOUT)
    assert any(label.startswith(BEST) for label in legend_labels(compare._overlay_legend))


def test_compare_names_a_noisy_sinusoid_oracle_as_least_squares(qtbot, open_window, tiny, wait_state):
    compare = _trained_compare(qtbot, _window_on(open_window, tiny, "sinusoid", noise_std=0.3), wait_state)
    labels = legend_labels(compare.legend)
    assert any(label.startswith(f"{LEAST_SQUARES} (MSE ") for label in labels)
    assert not any(label.startswith(BEST) for label in labels)


@pytest.mark.parametrize("noise, name", [(0.0, "oracle (best possible)"), (0.3, "oracle (least squares)")])
def test_the_evaluate_table_names_the_oracle_row_as_its_family_declares(qtbot, open_window, tiny, wait_state,
                                                                        noise, name):
    window = _window_on(open_window, tiny, "sinusoid", noise_std=noise)
    window.model.set_budget(3)  # Evaluate offers trained learners only
    window.model.start()
    wait_state(window, "done")
    view = window.session.evaluation
    window.session.show_tab(view)
    view.form.tasks.setValue(20)
    view.form.steps.setValue(1)
    for k, box in view.form.shot_boxes.items():
        box.setChecked(k == 5)
    with qtbot.waitSignal(view.results_changed, timeout=60_000):
        assert view.run()
    methods = [view.table.item(row, 0).text() for row in range(view.table.rowCount())]
    assert name in methods and not any(m.startswith("oracle") and m != name for m in methods)


def test_a_drawn_truth_reaches_explore_and_compare_and_disables_the_sliders(qtbot, window, wait_state):
    compare = _trained_compare(qtbot, window, wait_state)
    model, panel = window.model, window.task_panel
    assert all(slider.isEnabled() for slider in panel.sliders.values())
    model.draw_truth([-4.0, 0.0, 4.0], [-2.0, 3.0, -2.0])
    sample = model.history.current
    assert sample.drawn is not None and sample.shots == model.config.shots
    assert not any(slider.isEnabled() for slider in panel.sliders.values())
    assert "no parameters" in next(iter(panel.sliders.values())).toolTip()
    assert not panel.show_oracle.isEnabled() and "drawn task" in panel.show_oracle.toolTip()
    qtbot.waitUntil(lambda: compare.sample is sample and not compare._redraw.isActive(), timeout=TIMEOUT)
    view = compare.views["MAML"]
    inside = (view.x >= -4) & (view.x <= 4)
    np.testing.assert_allclose(view.truth[inside], np.interp(view.x[inside], [-4, 0, 4], [-2, 3, -2]))
    np.testing.assert_allclose(compare._panes["MAML"].support.getData()[1], sample.y_support)
    assert compare.oracle is None
    window.session.show_tab(window.explore)
    _drawn(qtbot, window, lambda: np.array_equal(window.explore.task_plot.support.getData()[0], sample.x_support))
    assert "a drawn truth" in window.explore.task_plot.title_text
    panel.new.click()
    assert model.history.current.drawn is None
    assert all(slider.isEnabled() for slider in panel.sliders.values()) and panel.show_oracle.isEnabled()


def _screen(plot, x, y) -> QPoint:
    point = plot.mapFromScene(plot.getPlotItem().getViewBox().mapViewToScene(pg.Point(x, y)))
    return QPoint(int(point.x()), int(point.y()))


def test_dragging_the_mouse_draws_the_truth(qtbot, window):
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    plot, panel, history = window.explore.task_plot, window.task_panel, window.model.history
    before, shots = len(history), history.current.shots
    panel.draw_truth.click()
    assert panel.draw_truth.isChecked() and plot.draw_mode
    assert "draw the truth" in window.explore.hint().lower()
    stroke = [(-4.0, -1.0), (-2.0, 1.0), (0.0, 2.0), (2.0, 0.0), (4.0, -1.0)]
    viewport = plot.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=_screen(plot, *stroke[0]))
    for x, y in stroke[1:-1]:
        qtbot.mouseMove(viewport, pos=_screen(plot, x, y))
        assert plot.sketch.isVisible() and len(plot.sketch.getData()[0]) >= 2  # the stroke is seen as drawn
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=_screen(plot, *stroke[-1]))
    sample = history.current
    assert len(history) == before + 1 and sample.drawn is not None and sample.shots == shots
    assert not panel.draw_truth.isChecked() and not plot.draw_mode  # one drawing per press
    # The curve goes through the stroke (to a pixel or so) and nowhere else.
    (x0, x1), tolerance = sample.drawn.span, 0.1
    assert abs(x0 + 4.0) < tolerance and abs(x1 - 4.0) < tolerance
    xs, ys = np.array(stroke).T
    np.testing.assert_allclose(sample.truth(xs[1:-1]), ys[1:-1], atol=tolerance)
    assert ((sample.x_support >= x0) & (sample.x_support <= x1)).all()
    np.testing.assert_allclose(sample.y_support, sample.truth(sample.x_support))
    _drawn(qtbot, window, lambda: window.explore.view is not None
           and np.allclose(window.explore.view.truth, sample.truth(window.explore.view.x), equal_nan=True))
    assert plot.sketch.getData()[0] is None or len(plot.sketch.getData()[0]) == 0
