"""The task plot and browser: clicks edit support points, the history walks."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt


def _click(qtbot, window, x, y, button=Qt.MouseButton.LeftButton):
    """A real mouse click at data coordinates (x, y) on the task plot."""
    plot = window.task_plot
    window.show()
    qtbot.waitExposed(window)
    view_point = plot.mapFromScene(plot.getPlotItem().getViewBox().mapViewToScene(pg.Point(x, y)))
    qtbot.mouseClick(plot.viewport(), button, pos=QPoint(int(view_point.x()), int(view_point.y())))


def test_launch_shows_a_task_and_both_fits(window):
    view, sample = window.view, window.history.current
    assert sample.shots == window.config.shots
    assert np.allclose(view.truth, sample.truth(view.x))
    assert window.task_plot.support.data.size == sample.shots
    x, y = window.task_plot.post.getData()
    assert np.allclose(y, view.post) and window.task_plot.post.isVisible()


def test_click_adds_a_support_point_and_changes_the_fit(qtbot, window):
    before = window.view.post.copy()
    shots = window.history.current.shots
    _click(qtbot, window, 2.0, 3.0)
    assert window.history.current.shots == shots + 1
    added = (window.history.current.x_support[-1], window.history.current.y_support[-1])
    assert abs(added[0] - 2.0) < 0.1 and abs(added[1] - 3.0) < 0.1
    qtbot.waitUntil(lambda: not np.allclose(window.view.post, before), timeout=100)  # 50 ms + slack
    _click(qtbot, window, 2.0, 3.0, Qt.MouseButton.RightButton)
    assert window.history.current.shots == shots


def test_next_and_previous_walk_the_history(qtbot, window):
    first = window.history.current
    window.task_panel.new.click()
    second = window.history.current
    assert second is not first and second.amplitude != first.amplitude
    assert window.task_panel.previous.isEnabled() and not window.task_panel.next.isEnabled()
    window.task_panel.previous.click()
    assert window.history.current is first
    window.task_panel.next.click()
    assert window.history.current is second
    qtbot.waitUntil(lambda: np.allclose(window.view.truth, second.truth(window.view.x)))


def test_hand_made_task_and_clear(qtbot, window):
    window.task_panel.amplitude.spin.setValue(1.5)
    window.task_panel.phase.spin.setValue(0.5)
    sample = window.history.current
    assert (sample.amplitude, sample.phase) == (1.5, 0.5)
    assert np.allclose(sample.y_support, 1.5 * np.sin(sample.x_support - 0.5))
    window.task_panel.clear.click()
    assert window.history.current.shots == 0
    qtbot.waitUntil(lambda: window.task_plot.support.data.size == 0)


def test_adaptation_steps_and_ramp(qtbot, window):
    window.controls.adapt_steps.spin.setValue(5)
    qtbot.waitUntil(lambda: window.view.trajectory.shape[0] == 6)
    visible = [c for c in window.task_plot.ramp if c.isVisible()]
    assert len(visible) == 4
    window.task_panel.show_steps.setChecked(False)
    qtbot.waitUntil(lambda: not any(c.isVisible() for c in window.task_plot.ramp))


def test_edits_while_training_are_drawn_at_once(qtbot, open_window, tiny):
    window = open_window(tiny(iterations=100_000))
    window.start()
    qtbot.waitUntil(lambda: window.snapshot is not None)
    before = window.history.current
    window.task_panel.new.click()
    qtbot.waitUntil(lambda: np.allclose(window.view.truth, window.history.current.truth(window.view.x)),
                    timeout=100)
    assert window.history.current is not before and window.state == "training"


def test_slider_spam_is_coalesced(qtbot, window, monkeypatch):
    """Hundreds of slider moves between two frames cost one adaptation, not hundreds."""
    calls = []
    original = window.compute_view
    monkeypatch.setattr(window, "compute_view", lambda: calls.append(1) or original())
    for i in range(300):
        window.task_panel.amplitude.slider.setValue(i % 1000)
        window.controls.adapt_lr.slider.setValue(300 + i % 200)
    qtbot.wait(120)
    assert 1 <= len(calls) <= 6
    assert np.allclose(window.view.truth, window.history.current.truth(window.view.x))
