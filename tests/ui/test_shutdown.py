"""Closing the window joins every thread (training, evaluation, reproduction), and
Cancel stops even a very long evaluation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .conftest import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]


def trained_window(open_window, wait_state, tiny, **changes):
    """A window whose MAML has trained 40 iterations, showing the Evaluate tab."""
    window = open_window(tiny(**changes))
    window.model.start()
    wait_state(window, "done")
    evaluation = window.session.evaluation
    window.session.show_tab(evaluation)
    assert evaluation.checked_learners() == ["MAML"]
    return window, evaluation


def start_evaluation(qtbot, evaluation, tasks):
    evaluation.form.tasks.setValue(tasks)
    assert evaluation.form.tasks.value() == tasks
    assert evaluation.run()
    qtbot.waitUntil(lambda: evaluation.progress.value() > 0, timeout=TIMEOUT)  # the worker is at work
    assert evaluation.runner.running and evaluation.progress.value() < evaluation.progress.maximum()


def test_closing_while_training_and_evaluating_joins_both_threads(qtbot, open_window, wait_state, tiny):
    window, evaluation = trained_window(open_window, wait_state, tiny)
    start_evaluation(qtbot, evaluation, 50_000)
    window.model.set_budget(100_000)
    window.model.start()  # training runs beside the evaluation
    qtbot.waitUntil(lambda: window.model.iteration > 41, timeout=TIMEOUT)
    threads = [window.runner._thread, evaluation.runner._thread]
    assert all(thread.isRunning() for thread in threads)
    window.close()
    assert not window.runner.running and not evaluation.runner.running
    assert not any(thread.isRunning() for thread in threads)
    assert evaluation.results == [] and window.model.trainer.learner.iteration < 100_000


def test_closing_while_reproducing_joins_the_thread(qtbot, open_window, wait_state, tiny, tmp_path):
    window, evaluation = trained_window(open_window, wait_state, tiny)
    out = tmp_path / "repro"
    assert evaluation.reproduce(out, iterations=50)
    qtbot.waitUntil(lambda: evaluation.progress.value() > 0, timeout=TIMEOUT)  # training has begun
    thread = evaluation.runner._thread
    assert thread.isRunning()
    window.close()
    assert not evaluation.runner.running and not window.runner.running and not thread.isRunning()
    assert not (out / "table.md").exists()  # stopped before the end: no table


def test_cancel_stops_a_100000_task_evaluation(qtbot, open_window, wait_state, tiny):
    window, evaluation = trained_window(open_window, wait_state, tiny)
    start_evaluation(qtbot, evaluation, 100_000)
    asked = time.perf_counter()
    evaluation.cancel()
    qtbot.waitUntil(lambda: not evaluation.runner.running, timeout=TIMEOUT)
    print(f"cancel latency: {1000 * (time.perf_counter() - asked):.0f} ms")
    assert evaluation.status.text().startswith("cancelled")
    assert evaluation.results == [] and evaluation.run_button.isEnabled()
    assert not evaluation.cancel_button.isEnabled()


SCRIPT = textwrap.dedent("""
    import sys

    from PySide6.QtCore import QEventLoop, QTimer

    from metaviz.learners import default_config
    from metaviz.ui.app import make_app, make_window
    from metaviz.ui.settings import Preferences

    app = make_app()
    config = default_config("maml", iterations=20, meta_batch=5, eval_every=10, eval_tasks=10)
    window = make_window(Preferences(sys.argv[1]), config)
    window.show()
    model = window.model
    loop = QEventLoop()

    def wait_for(condition):
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: condition() and loop.quit())
        timer.start()
        loop.exec()
        timer.stop()

    model.start()
    wait_for(lambda: model.state.value == "done")
    evaluation = window.session.evaluation
    window.session.show_tab(evaluation)
    evaluation.form.tasks.setValue(100_000)
    assert evaluation.run(), "the evaluation did not start"
    wait_for(lambda: evaluation.progress.value() > 0)
    model.set_budget(100_000)
    model.start()
    wait_for(lambda: model.iteration > 21)
    print("running at close:", evaluation.runner.running, window.runner.running, flush=True)
    window.close()
    print("running after close:", evaluation.runner.running, window.runner.running, flush=True)
    QTimer.singleShot(0, app.quit)
    sys.exit(app.exec())
""")


def test_a_process_closed_mid_evaluation_exits_cleanly(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "prefs.ini")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "running at close: True True" in done.stdout, done.stdout + done.stderr
    assert "running after close: False False" in done.stdout
    assert "QThread: Destroyed" not in done.stderr
