"""Training speed in the window vs headless, same budget, same run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/window_vs_headless.py [--iterations N]

Prints meta-iterations per second of both and their ratio (the target is >= 0.85).
The window trains in its worker thread while the GUI thread repaints the task plot
and the curves, as it does for a user. Reported, not asserted: machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def headless(config) -> float:
    import torch

    from metaviz.jobs import TrainControl, drain
    from metaviz.jobs.training import Trainer, training_job
    from metaviz.learners import make_learner

    torch.set_num_threads(1)
    trainer = Trainer(make_learner(config))
    started = time.perf_counter()
    # The same job and parameter copies the window's runner drives.
    drain(training_job(trainer, TrainControl(config.inner_lr, config.meta_lr), with_params=True))
    return config.iterations / (time.perf_counter() - started)


def in_window(config) -> float:
    from PySide6.QtCore import QEventLoop

    from metaviz.ui.app import make_app, make_window
    from metaviz.ui.settings import Preferences

    make_app()
    with tempfile.TemporaryDirectory() as folder:
        window = make_window(Preferences(Path(folder) / "prefs.ini"), config)
        window.model.set_adaptation(steps=5)  # a busy plot: a ramp of 5 steps to redraw
        window.show()
        loop = QEventLoop()
        window.stateChanged.connect(lambda state: loop.quit() if state != "training" else None)
        started = time.perf_counter()
        window.model.start()
        loop.exec()
        seconds = time.perf_counter() - started
        state = window.state
        window.close()
    if state != "done":
        raise SystemExit(f"the window ended in state {state!r}")
    return config.iterations / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2, help="alternating measurements; best of each")
    args = parser.parse_args()
    from metaviz.learners import default_config

    config = default_config("maml", iterations=args.iterations, eval_every=100)
    head, window = [], []
    for _ in range(args.rounds):
        head.append(headless(config))
        window.append(in_window(config))
    h, w = max(head), max(window)
    print(f"headless  {h:8.1f} meta-it/s   (runs: {', '.join(f'{v:.1f}' for v in head)})")
    print(f"window    {w:8.1f} meta-it/s   (runs: {', '.join(f'{v:.1f}' for v in window)})")
    print(f"ratio     {w / h:8.3f}   (window / headless, {config.learner}, {args.iterations} iterations)")


if __name__ == "__main__":
    main()
