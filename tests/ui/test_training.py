"""Training in the window: start, step, live rates, divergence, closing mid-run."""

from __future__ import annotations

import math

import pytest
import torch
from PySide6.QtCore import QThread

from metaviz.training import cosine_factor


def test_start_trains_to_done(qtbot, window, wait_state):
    assert window.state == "idle"
    window.buttons["start"].click()
    wait_state(window, "done")
    assert window.trainer.learner.iteration == 40
    # every loss arrives although snapshots are throttled, in order, once each
    assert [it for it, _ in window.losses] == list(range(1, 41))
    assert [v.iteration for v in window.validations] == [1, 10, 20, 30, 40]
    assert window.snapshot.iteration == 40
    qtbot.waitUntil(lambda: "40 / 40" in window.status.text.text())  # painted by the frame timer
    assert window.status.progress.value() == 40
    assert not window.buttons["start"].isEnabled()


def test_step_adds_exactly_one_iteration(qtbot, window):
    window.buttons["step"].click()
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.iteration == 1)
    assert window.state == "paused"
    window.buttons["step"].click()
    qtbot.waitUntil(lambda: window.snapshot.iteration == 2)
    qtbot.wait(200)  # nothing more may happen while paused
    assert window.snapshot.iteration == 2
    assert [it for it, _ in window.losses] == [1, 2]


def test_meta_lr_slider_changes_the_next_step(qtbot, window):
    window.step()
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.iteration == 1)
    first = window.snapshot
    assert math.isclose(first.meta_lr, 0.01 * cosine_factor(0, 40, window.config.final_lr_fraction), rel_tol=1e-9)
    window.controls.meta_lr.spin.setValue(0.002)  # as if typed: emits like a drag
    window.controls.inner_lr.spin.setValue(0.03)
    window.step()
    qtbot.waitUntil(lambda: window.snapshot.iteration == 2)
    scheduled = 0.002 * cosine_factor(1, 40, window.config.final_lr_fraction)
    assert math.isclose(window.snapshot.meta_lr, scheduled, rel_tol=1e-9)
    assert window.snapshot.inner_lr == pytest.approx(0.03)


def test_space_starts_and_pauses(qtbot, window):
    window.set_budget(100_000)
    window.toggle_run()
    assert window.state == "training"
    qtbot.waitUntil(lambda: window.snapshot is not None)
    window.toggle_run()
    assert window.state == "paused"
    window.stop()
    assert window.state == "idle" and not window.controller.running


def test_closing_mid_run_joins_the_thread(qtbot, open_window, tiny):
    window = open_window(tiny(iterations=100_000))
    window.start()
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.iteration > 3)
    thread = window.controller._thread
    assert isinstance(thread, QThread) and thread.isRunning()
    window.close()
    assert not window.controller.running
    assert window.trainer.learner.iteration < 100_000


def test_divergence_then_resume_after_lowering_the_rate(qtbot, open_window, dialogs, tiny, wait_state):
    window = open_window(tiny(inner_lr=1.0, meta_lr=0.1, iterations=30))  # the example
    window.start()
    wait_state(window, "diverged")
    assert "diverged" in window.last_message and "inner lr 1" in window.last_message and dialogs.messages
    kept = window.trainer.learner.iteration
    assert kept < 30 and [i for i, _ in window.losses] == list(range(1, kept + 1))
    qtbot.waitUntil(lambda: "diverged" in window.status.state.text())
    # What is drawn is the kept learner, not the blown-up step.
    window.draw_now()
    for name, tensor in window.trainer.learner.tensors.items():
        assert torch.equal(window.view_learner.tensors[name], tensor)
    window.controls.inner_lr.spin.setValue(0.01)  # the kept parameters are sane: one rate comes down
    assert window.buttons["resume"].isEnabled()
    window.buttons["resume"].click()
    wait_state(window, "done")
    assert window.trainer.learner.iteration == 30
    assert all(math.isfinite(loss) for _, loss in window.losses)


def test_reset_discards_the_run(qtbot, window, wait_state):
    window.start()
    wait_state(window, "done")
    old = window.trainer
    window.buttons["reset"].click()
    assert window.trainer is not old and window.trainer.learner.iteration == 0
    assert window.losses == [] and window.state == "idle"


def test_meta_lr_applies_live_while_running(qtbot, open_window, tiny):
    window = open_window(tiny(iterations=100_000))
    window.start()
    qtbot.waitUntil(lambda: window.snapshot is not None)
    window.controls.meta_lr.spin.setValue(0.002)
    changed_at = window.snapshot.iteration

    def base_rate():
        s = window.snapshot
        return s.meta_lr / cosine_factor(s.iteration - 1, s.budget, window.config.final_lr_fraction)

    qtbot.waitUntil(lambda: math.isclose(base_rate(), 0.002, rel_tol=1e-6))
    assert window.snapshot.iteration > changed_at and window.state == "training"
    window.stop()
