"""The task plot and browser: clicks edit support points, the history walks."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt

from .conftest import TIMEOUT


def _click(qtbot, window, x, y, button=Qt.MouseButton.LeftButton):
    """A real mouse click at data coordinates (x, y) on the task plot."""
    plot = window.explore.task_plot
    window.show()
    qtbot.waitExposed(window)
    view_point = plot.mapFromScene(plot.getPlotItem().getViewBox().mapViewToScene(pg.Point(x, y)))
    qtbot.mouseClick(plot.viewport(), button, pos=QPoint(int(view_point.x()), int(view_point.y())))


def test_launch_shows_a_task_and_both_fits(window):
    view, sample = window.explore.view, window.model.history.current
    assert sample.shots == window.model.config.shots
    assert sample.family.name == "sinusoid" and len(sample.params) == 2
    assert np.allclose(view.truth, sample.truth(view.x))
    plot = window.explore.task_plot
    assert plot.support.data.size == sample.shots
    x, y = plot.post.getData()
    assert np.allclose(y, view.post) and plot.post.isVisible()
    assert list(window.task_panel.sliders) == ["amp", "phase"]
    assert [s.value() for s in window.task_panel.sliders.values()] == list(sample.params)


def test_click_adds_a_support_point_and_changes_the_fit(qtbot, window):
    history = window.model.history
    before = window.explore.view.post.copy()
    shots = history.current.shots
    _click(qtbot, window, 2.0, 3.0)
    assert history.current.shots == shots + 1
    added = (history.current.x_support[-1], history.current.y_support[-1])
    assert abs(added[0] - 2.0) < 0.1 and abs(added[1] - 3.0) < 0.1
    qtbot.waitUntil(lambda: not np.allclose(window.explore.view.post, before), timeout=TIMEOUT)
    _click(qtbot, window, 2.0, 3.0, Qt.MouseButton.RightButton)
    assert history.current.shots == shots


def test_next_and_previous_walk_the_history(qtbot, window):
    history = window.model.history
    first = history.current
    window.task_panel.new.click()
    second = history.current
    assert second is not first and second.params != first.params
    assert window.task_panel.previous.isEnabled() and not window.task_panel.next.isEnabled()
    window.task_panel.previous.click()
    assert history.current is first
    assert [s.value() for s in window.task_panel.sliders.values()] == list(first.params)
    window.task_panel.next.click()
    assert history.current is second
    view = window.explore
    qtbot.waitUntil(lambda: np.allclose(view.view.truth, second.truth(view.view.x)), timeout=TIMEOUT)


def test_hand_made_task_and_clear(qtbot, window):
    sliders = window.task_panel.sliders
    sliders["amp"].spin.setValue(1.5)
    sliders["phase"].spin.setValue(0.5)
    sample = window.model.history.current
    assert sample.params == (1.5, 0.5)
    assert np.allclose(sample.y_support, 1.5 * np.sin(sample.x_support - 0.5))
    window.task_panel.clear.click()
    assert window.model.history.current.shots == 0
    qtbot.waitUntil(lambda: window.explore.task_plot.support.data.size == 0, timeout=TIMEOUT)


def test_adaptation_steps_and_ramp(qtbot, window):
    window.controls.adapt_steps.spin.setValue(5)
    assert window.model.adapt_steps == 5
    qtbot.waitUntil(lambda: window.explore.view.trajectory.shape[0] == 6, timeout=TIMEOUT)
    plot = window.explore.task_plot
    visible = [c for c in plot.ramp if c.isVisible()]
    assert len(visible) == 4
    window.task_panel.show_steps.setChecked(False)
    qtbot.waitUntil(lambda: not any(c.isVisible() for c in plot.ramp), timeout=TIMEOUT)


def test_edits_while_training_are_drawn(qtbot, open_window, tiny):
    window = open_window(tiny(iterations=100_000))
    model = window.model
    model.start()
    qtbot.waitUntil(lambda: model.snapshot is not None, timeout=TIMEOUT)
    before = model.history.current
    window.task_panel.new.click()
    view = window.explore
    qtbot.waitUntil(lambda: np.allclose(view.view.truth, model.history.current.truth(view.view.x)),
                    timeout=TIMEOUT)
    assert model.history.current is not before and window.state == "training"
    model.stop()


def test_slider_spam_is_coalesced(qtbot, window, monkeypatch):
    """Hundreds of slider moves between two frames cost one adaptation, not hundreds."""
    model = window.model
    calls = []
    original = model.adaptation_view
    monkeypatch.setattr(model, "adaptation_view", lambda *a, **k: calls.append(1) or original(*a, **k))
    for i in range(300):
        window.task_panel.sliders["amp"].slider.setValue(i % 1000)
        window.controls.adapt_lr.slider.setValue(300 + i % 200)
    assert calls == []  # nothing is drawn while the edits arrive
    qtbot.waitUntil(lambda: len(calls) >= 1, timeout=TIMEOUT)  # the next frame draws the latest
    assert len(calls) <= 2
    view = window.explore.view
    assert np.allclose(view.truth, model.history.current.truth(view.x))
    assert model.history.current.params[0] == window.task_panel.sliders["amp"].value()
