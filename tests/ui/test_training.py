"""Training in the window: the run state machine, step, live rates, divergence, closing mid-run."""

from __future__ import annotations

import math

import pytest
import torch
from PySide6.QtCore import Qt, QThread

from metaviz.jobs.control import TrainControl
from metaviz.jobs.training import cosine_factor

from .conftest import TIMEOUT


class ObservedControl(TrainControl):
    """A TrainControl that notes when the worker comes to wait while paused (nothing
    granted): from then on the trainer cannot move until the GUI allows it, so its
    iteration can be read as final without sleeping."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.parked = False

    def wait_for_turn(self) -> bool:
        if self.paused and not self.stopped:
            self.parked = True
        return super().wait_for_turn()


@pytest.fixture
def controls(monkeypatch):
    """Every TrainControl the explorer creates from now on, in order."""
    made: list[ObservedControl] = []

    def make(*args, **kwargs):
        made.append(ObservedControl(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("metaviz.explorer.TrainControl", make)
    return made


def click(qtbot, window, name):
    button = window.run_buttons.buttons[name]
    assert button.isEnabled(), f"{name} should be enabled in state {window.state}"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_start_trains_to_done(qtbot, window, wait_state):
    model = window.model
    assert window.state == "idle"
    with qtbot.waitSignal(window.stateChanged, timeout=TIMEOUT) as blocker:
        click(qtbot, window, "start")
    assert blocker.args == ["training"]
    wait_state(window, "done")
    assert model.trainer.learner.iteration == 40
    # every loss arrives although progress is coalesced, in order, once each
    assert [it for it, _ in model.losses] == list(range(1, 41))
    assert [v.iteration for v in model.validations] == [1, 10, 20, 30, 40]
    assert model.snapshot.iteration == 40
    qtbot.waitUntil(lambda: "40 / 40" in window.status.text.text(), timeout=TIMEOUT)  # painted by the frame timer
    assert window.status.progress.value() == 40
    # The window's --device is auto: where it trained is in the status bar.
    assert window.status.device.text() == ("on cpu" if model.trainer.learner.device.type == "cpu" else
                                           f"on cuda ({torch.cuda.get_device_name()})")
    assert not window.run_buttons.buttons["start"].isEnabled()
    assert not window.runner.running


def test_state_machine_start_pause_step_stop(qtbot, window, wait_state, controls):
    """Start -> training; Pause -> paused; Step (from paused) -> exactly one more
    iteration; Resume -> training; Stop -> idle; Start again -> done at the budget."""
    model = window.model
    model.set_budget(100_000)
    click(qtbot, window, "start")
    assert window.state == "training" and window.runner.running
    qtbot.waitUntil(lambda: model.snapshot is not None and model.snapshot.iteration >= 2, timeout=TIMEOUT)
    click(qtbot, window, "pause")
    assert window.state == "paused"
    [control] = controls
    qtbot.waitUntil(lambda: control.parked, timeout=TIMEOUT)  # the worker waits: its iteration is final
    paused_at = model.trainer.learner.iteration
    qtbot.waitUntil(lambda: model.snapshot.iteration == paused_at, timeout=TIMEOUT)  # all of it shown
    assert [it for it, _ in model.losses] == list(range(1, paused_at + 1))
    buttons = window.run_buttons.buttons
    assert buttons["resume"].isEnabled() and buttons["step"].isEnabled() and not buttons["pause"].isEnabled()

    control.parked = False  # the worker is waiting: only the step below can wake it
    click(qtbot, window, "step")
    qtbot.waitUntil(lambda: control.parked, timeout=TIMEOUT)
    assert model.trainer.learner.iteration == paused_at + 1
    qtbot.waitUntil(lambda: model.snapshot.iteration == paused_at + 1, timeout=TIMEOUT)
    assert window.state == "paused" and [it for it, _ in model.losses][-2:] == [paused_at, paused_at + 1]

    click(qtbot, window, "resume")
    assert window.state == "training"
    qtbot.waitUntil(lambda: model.snapshot.iteration > paused_at + 2, timeout=TIMEOUT)
    click(qtbot, window, "stop")  # joins the worker
    assert window.state == "idle" and not window.runner.running and not model.running
    stopped_at = model.trainer.learner.iteration
    assert 0 < stopped_at < 100_000 and [it for it, _ in model.losses] == list(range(1, stopped_at + 1))

    model.set_budget(stopped_at + 5)  # Start continues the same model to its budget
    click(qtbot, window, "start")
    wait_state(window, "done")
    assert model.trainer.learner.iteration == stopped_at + 5
    assert [it for it, _ in model.losses] == list(range(1, stopped_at + 6))
    assert not window.run_buttons.buttons["start"].isEnabled() and not window.run_buttons.buttons["step"].isEnabled()


def test_step_from_idle_adds_exactly_one_iteration(qtbot, window, controls):
    model = window.model
    click(qtbot, window, "step")
    assert window.state == "paused"
    [control] = controls
    qtbot.waitUntil(lambda: control.parked and model.snapshot is not None, timeout=TIMEOUT)
    assert model.trainer.learner.iteration == 1 and model.snapshot.iteration == 1
    control.parked = False
    click(qtbot, window, "step")
    qtbot.waitUntil(lambda: control.parked, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: model.snapshot.iteration == 2, timeout=TIMEOUT)
    assert model.trainer.learner.iteration == 2 and window.state == "paused"
    model.stop()
    assert [it for it, _ in model.losses] == [1, 2] and model.trainer.learner.iteration == 2


def test_meta_lr_slider_changes_the_next_step(qtbot, window):
    model = window.model
    model.step()
    qtbot.waitUntil(lambda: model.snapshot is not None and model.snapshot.iteration == 1, timeout=TIMEOUT)
    first = model.snapshot
    schedule = (model.config.final_lr_fraction, model.config.warmup)
    assert math.isclose(first.meta_lr, 0.01 * cosine_factor(0, 40, *schedule), rel_tol=1e-9)
    window.controls.meta_lr.spin.setValue(0.002)  # as if typed: emits like a drag
    window.controls.inner_lr.spin.setValue(0.03)
    assert model.config.meta_lr == 0.002 and model.config.inner_lr == pytest.approx(0.03)
    model.step()
    qtbot.waitUntil(lambda: model.snapshot.iteration == 2, timeout=TIMEOUT)
    scheduled = 0.002 * cosine_factor(1, 40, *schedule)
    assert math.isclose(model.snapshot.meta_lr, scheduled, rel_tol=1e-9)
    assert model.snapshot.inner_lr == pytest.approx(0.03)


def test_space_starts_and_pauses(qtbot, window):
    model = window.model
    model.set_budget(100_000)
    model.toggle()
    assert window.state == "training"
    qtbot.waitUntil(lambda: model.snapshot is not None, timeout=TIMEOUT)
    model.toggle()
    assert window.state == "paused"
    model.toggle()
    assert window.state == "training"
    model.stop()
    assert window.state == "idle" and not window.runner.running


def test_closing_mid_run_joins_the_thread(qtbot, open_window, tiny):
    window = open_window(tiny(iterations=100_000))
    window.model.start()
    qtbot.waitUntil(lambda: window.model.snapshot is not None and window.model.snapshot.iteration > 3,
                    timeout=TIMEOUT)
    thread = window.runner._thread
    assert isinstance(thread, QThread) and thread.isRunning()
    window.close()
    assert not window.runner.running and not thread.isRunning()
    assert window.model.trainer.learner.iteration < 100_000


def test_divergence_then_resume_after_lowering_the_rate(qtbot, open_window, dialogs, tiny, wait_state):
    window = open_window(tiny(inner_lr=1.0, meta_lr=0.1, iterations=30))  # the example
    model = window.model
    model.start()
    wait_state(window, "diverged")
    assert "diverged" in window.last_message and "inner lr 1" in window.last_message and dialogs.messages
    kept = model.trainer.learner.iteration
    assert kept < 30 and [i for i, _ in model.losses] == list(range(1, kept + 1))
    qtbot.waitUntil(lambda: "diverged" in window.status.state.text(), timeout=TIMEOUT)
    # What is drawn is the kept learner, not the blown-up step.
    window.explore.draw_now()
    for name, tensor in model.trainer.learner.tensors.items():
        assert torch.equal(model.view_learner.tensors[name], tensor)
    window.controls.inner_lr.spin.setValue(0.01)  # the kept parameters are sane: one rate comes down
    assert window.run_buttons.buttons["resume"].isEnabled()
    click(qtbot, window, "resume")
    wait_state(window, "done")
    assert model.trainer.learner.iteration == 30
    assert all(math.isfinite(loss) for _, loss in model.losses)


def test_reset_discards_the_run_after_asking(qtbot, window, wait_state, dialogs):
    model = window.model
    model.start()
    wait_state(window, "done")
    old = model.trainer
    click(qtbot, window, "reset")
    assert len(dialogs.questions) == 1 and "Reset" in dialogs.questions[0]
    assert model.trainer is not old and model.trainer.learner.iteration == 0
    assert model.losses == [] and window.state == "idle"


def test_reset_answered_no_keeps_the_iterations(qtbot, window, wait_state, dialogs):
    model = window.model
    model.start()
    wait_state(window, "done")
    trainer, losses = model.trainer, list(model.losses)
    dialogs.answer = False
    click(qtbot, window, "reset")
    assert len(dialogs.questions) == 1 and "40 iterations" in dialogs.questions[0]
    assert model.trainer is trainer and model.trainer.learner.iteration == 40
    assert list(model.losses) == losses and window.state == "done"


def test_untrained_reset_does_not_ask(qtbot, window, dialogs):
    old = window.model.trainer
    click(qtbot, window, "reset")
    assert dialogs.questions == [] and window.model.trainer is not old


def test_a_learner_switch_keeps_the_trained_one_in_the_library(qtbot, window, wait_state, dialogs):
    model = window.model
    model.start()
    wait_state(window, "done")
    trained = model.active
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("pretrained"))
    assert not dialogs.questions and model.config.learner == "pretrained" and window.state == "idle"
    assert trained in model.library.entries and trained.iterations == 40
    assert [e.name for e in model.library.entries] == ["MAML", "pretrained"]
    assert model.library.trained() == [trained]
    tree = window.session.panel.tree
    rows = [[tree.topLevelItem(i).text(c) for c in range(3)] for i in range(tree.topLevelItemCount())]
    assert rows == [["MAML", "MAML", "40"], ["pretrained", "pretrained", "0"]]
    # Back to MAML: the same trained entry, not a new one.
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("maml"))
    assert model.active is trained and model.trainer.learner.iteration == 40 and window.state == "done"


def test_meta_lr_applies_live_while_running(qtbot, open_window, tiny):
    window = open_window(tiny(iterations=100_000))
    model = window.model
    model.start()
    qtbot.waitUntil(lambda: model.snapshot is not None, timeout=TIMEOUT)
    window.controls.meta_lr.spin.setValue(0.002)
    changed_at = model.snapshot.iteration

    def base_rate():
        s = model.snapshot
        return s.meta_lr / cosine_factor(s.iteration - 1, s.budget, model.config.final_lr_fraction,
                                           model.config.warmup)

    qtbot.waitUntil(lambda: math.isclose(base_rate(), 0.002, rel_tol=1e-6), timeout=TIMEOUT)
    assert model.snapshot.iteration > changed_at and window.state == "training"
    model.stop()
