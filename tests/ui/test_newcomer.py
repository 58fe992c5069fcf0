"""Clear to a newcomer: a first-run hint on the canvas, an empty-state hint after Clear
points, one-line definitions in the tooltips, and a guided tour (Help menu)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt

from metaviz.ui.plot_parts import legend_labels

from .conftest import TIMEOUT


def hint(window):
    plot = window.explore.task_plot
    return plot.hint.toPlainText() if plot.hint.isVisible() else ""


def test_first_run_hint_then_empty_state_hint(qtbot, window, wait_state):
    assert "Space trains" in hint(window) and "click to add points" in hint(window)
    window.model.start()
    qtbot.waitUntil(lambda: hint(window) == "", timeout=TIMEOUT)  # training: the hint steps aside
    wait_state(window, "done")
    qtbot.mouseClick(window.task_panel.clear, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Click on the plot to add points" in hint(window), timeout=TIMEOUT)
    window.explore.task_plot.clicked.emit(1.0, 1.0, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hint(window) == "", timeout=TIMEOUT)


def test_tooltips_define_the_terms(window):
    c = window.controls
    assert "alpha" in c.inner_lr.toolTip() and "per-task gradient steps" in c.inner_lr.toolTip()
    assert "beta" in c.meta_lr.toolTip() and "outer" in c.meta_lr.toolTip()
    assert "training K" in c.shots.toolTip() and "plotted K" in c.shots.toolTip()
    assert "test-time" in c.adapt_lr.toolTip() and "not used in training" in c.adapt_lr.toolTip()
    assert "plot's Adapt steps may differ" in c.inner_steps.toolTip()
    task_tips = {label.text: label.toolTip() for _, label in window.explore.task_plot.legend.items}
    assert "K support points the learner adapts on" in task_tips["used for grad"]
    assert "before any adaptation step" in task_tips["pre-update (0 steps)"]
    curve_tips = {label.text: label.toolTip() for _, label in window.explore.training_plot.legend.items}
    assert "near 3" in curve_tips["held-out, pre-update"]
    assert legend_labels(window.explore.training_plot.legend)[2] == "held-out, after 1 step"


def help_action(window, text):
    [menu] = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"]
    [action] = [a for a in menu.actions() if a.text().startswith(text)]
    return action


def test_guided_tour_walks_the_figure_and_points_at_each_part(qtbot, window, wait_state):
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    help_action(window, "Guided tour").trigger()
    tour = window.tour
    assert tour is not None and tour.isVisible() and tour.index == 0
    assert tour.heading.text().startswith("1.") and "triangles" in tour.body.text()
    assert not tour.back.isEnabled()

    def pointed_at(widget):
        corner = widget.mapTo(window, QPoint(0, 0))
        return tour.highlight.isVisible() and tour.highlight.geometry().contains(QRect(corner, widget.size()))

    assert pointed_at(window.explore.task_plot)
    qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    assert tour.index == 1 and "pre-update" in tour.body.text() and tour.back.isEnabled()
    qtbot.mouseClick(tour.back, Qt.MouseButton.LeftButton)
    assert tour.index == 0
    for _ in range(3):
        qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    assert tour.heading.text() == "4. The lesson" and pointed_at(window.explore.training_plot)
    assert "stays near 3" in tour.body.text() and "falls" in tour.body.text()
    # Trained, the lesson quotes this run's numbers.
    window.model.start()
    wait_state(window, "done")
    tour.go(3)
    last = window.model.validations[-1]
    assert f"before adaptation <b>{last.mse[0]:.2f}</b>" in tour.body.text()
    assert f"after one step <b>{last.mse[1]:.2f}</b>" in tour.body.text()
    qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    assert pointed_at(window.controls.learner)
    qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    assert tour.next.text() == "Done" and "600 held-out tasks" in tour.body.text()
    qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    assert not tour.isVisible() and not tour.highlight.isVisible()
