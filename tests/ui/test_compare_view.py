"""The compare view follows the task, the support points and the step count."""

import numpy as np
import pytest
import torch

from metaviz.jobs.training import Trainer
from metaviz.learners import default_config, make_learner
from metaviz.session import LearnerLibrary
from metaviz.task_history import TaskHistory
from metaviz.tasks.sinusoid import Sinusoid
from metaviz.ui.compare_view import CompareView
from metaviz.ui.plot_parts import legend_labels
from tests.helpers import trained_learner

from .conftest import TIMEOUT


@pytest.fixture
def view(qtbot):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.set_learners({"MAML": trained_learner("maml"), "multi-task": trained_learner("multitask")})
    history = TaskHistory(Sinusoid(), 0)
    widget.set_task(history.new_random(5))
    widget.history = history
    widget.redraw()
    return widget


def _drawn(pane):
    return pane.post.getData()[1]


def test_one_pane_per_learner_with_its_own_adapted_fit(view):
    assert list(view._panes) == ["MAML", "multi-task"]
    maml, multitask = view._panes.values()
    # The panes draw exactly what each learner's adapt_trajectory says, not one shared curve.
    expected = view.learners["MAML"].adapt_trajectory(
        torch.as_tensor(view.sample.x_support, dtype=torch.float32).view(1, -1, 1),
        torch.as_tensor(view.sample.y_support, dtype=torch.float32).view(1, -1, 1),
        torch.as_tensor(view.views["MAML"].x, dtype=torch.float32).view(1, -1, 1), 1)
    np.testing.assert_allclose(_drawn(maml), expected[-1].flatten().numpy(), atol=1e-6)
    assert not np.allclose(_drawn(maml), _drawn(multitask))
    # Linked axes: the second pane follows the first.
    assert multitask.item.getViewBox().linkedView(0) is maml.item.getViewBox()


def test_panes_follow_task_changes_clicks_and_steps(qtbot, view):
    before = {name: _drawn(pane).copy() for name, pane in view._panes.items()}
    view.set_task(view.sample.with_point(1.0, 2.0))  # a click on the main plot adds a point
    qtbot.waitUntil(lambda: not view._redraw.isActive(), timeout=TIMEOUT)
    for name, pane in view._panes.items():
        assert not np.allclose(_drawn(pane), before[name])
        assert len(pane.support.getData()[0]) == 6
    view.set_task(view.history.new_random(5))
    view.set_steps(5)
    qtbot.waitUntil(lambda: not view._redraw.isActive(), timeout=TIMEOUT)
    assert all(v.trajectory.shape[0] == 6 for v in view.views.values())


def test_overlay_puts_every_learner_in_one_plot(qtbot, view):
    view.overlay.setChecked(True)
    assert view._panes == {} and set(view._overlay_curves) == {"MAML", "multi-task"}
    post = view._overlay_curves["multi-task"][1].getData()[1]
    np.testing.assert_allclose(post, view.views["multi-task"].post)
    labels = legend_labels(view._overlay_legend)  # below the plot, never over the curves
    assert any(label.startswith("multi-task: MSE pre") for label in labels)


def test_no_learners_shows_a_hint_instead_of_empty_axes(qtbot):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.show()
    assert widget.empty.isVisible() and not widget.canvas.isVisible()


def test_library_names_are_unique_and_renames_are_checked():
    library = LearnerLibrary()
    trainer = Trainer(make_learner(default_config("maml")))
    first = library.add(trainer)
    second = library.add(Trainer(make_learner(default_config("maml"))))
    assert (first.name, second.name) == ("MAML", "MAML 2")
    with pytest.raises(ValueError, match="already called"):
        library.rename("MAML 2", "MAML")
    with pytest.raises(ValueError, match="empty"):
        library.rename("MAML 2", "   ")
    library.rename("MAML 2", "mine")
    assert library.latest_of_kind("maml").name == "mine"
    assert library.trained() == []
    library.drop("MAML")
    assert [e.name for e in library.entries] == ["mine"]


def test_the_windows_compare_tab_follows_the_main_plot(qtbot, open_window, tiny, wait_state):
    from PySide6.QtCore import Qt

    window = open_window(tiny(iterations=20))
    window.model.start()
    wait_state(window, "done")
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("pretrained"))
    window.model.start()
    wait_state(window, "done")
    window.session.show_tab(window.session.compare)
    compare = window.session.compare
    qtbot.waitUntil(lambda: set(compare.views) == {"MAML", "pretrained"}, timeout=TIMEOUT)
    before = {name: view.post.copy() for name, view in compare.views.items()}
    window.explore.task_plot.clicked.emit(0.5, 2.0, Qt.MouseButton.LeftButton)  # a click adds a support point
    qtbot.waitUntil(lambda: all(not np.allclose(compare.views[n].post, before[n]) for n in before), timeout=TIMEOUT)
    assert all(len(pane.support.getData()[0]) == window.model.history.current.shots for pane in compare._panes.values())
    window.controls.adapt_steps.spin.setValue(3)  # as typed by a user
    qtbot.waitUntil(lambda: all(v.trajectory.shape[0] == 4 for v in compare.views.values()), timeout=TIMEOUT)
    # The evaluation tab offers the same trained learners; the side panel steps aside for it.
    window.session.show_tab(window.session.evaluation)
    assert window.session.evaluation.checked_learners() == ["MAML", "pretrained"]
