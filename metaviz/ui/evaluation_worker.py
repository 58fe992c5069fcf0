"""Evaluation and "Reproduce the paper" in a background thread.

A worker QObject lives in its own QThread and blocks there in :meth:`_Worker.run`;
cancellation is a ``threading.Event`` it polls between K's (a queued "stop" slot
would never run while ``run`` blocks that thread's event loop). The GUI-side
:class:`EvaluationRunner` owns the thread, always joins it (quit + wait) and only
then re-emits the outcome, so a receiver never sees a live thread.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..config import TaskConfig
from ..evaluation import EVAL_SEED, evaluate
from ..learners.base import Learner, make_learner
from ..reproduce import REPRODUCED, reproduce


def independent_copy(learner: Learner) -> Learner:
    """A learner with the same settings and parameters sharing no tensor with ``learner``
    (call it in the GUI thread, then hand the copy to a worker)."""
    copy = make_learner(learner.config)
    state = learner.state_dict()
    # Evaluation never steps the optimiser; its state would only alias the original's tensors.
    state.pop("optimizer", None)
    copy.load_state_dict(state)
    return copy


class _Worker(QObject):
    """Runs :meth:`work` once in its thread; exactly one of ``finished(list)``,
    ``cancelled()`` or ``error(str)`` ends every run."""

    progress = Signal(int, int)  # done, total
    log = Signal(str)
    finished = Signal(list)
    cancelled = Signal()
    error = Signal(str)

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self.cancel = cancel

    def work(self) -> list | None:
        raise NotImplementedError

    @Slot()
    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # leave the other core to the GUI thread
        try:
            output = self.work()
        except (OSError, ValueError) as exc:  # bad folder or settings: the message is for a person
            self.error.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - every failure must reach the window
            self.error.emit(f"{type(exc).__name__}: {exc}")
            return
        if output is None or self.cancel.is_set():
            self.cancelled.emit()
        else:
            self.finished.emit(output)


class EvaluationWorker(_Worker):
    """The protocol for each ``(name, learner, task)``; results carry the display name
    in ``result.learner``. ``task`` None evaluates on the learner's training ranges."""

    def __init__(self, jobs: Sequence[tuple[str, Learner, TaskConfig | None]], cancel: threading.Event,
                 shots: Sequence[int], steps: int, num_tasks: int, seed: int, lr: float | None) -> None:
        super().__init__(cancel)
        self.jobs = list(jobs)
        self.protocol = {"shots": tuple(shots), "steps": steps, "num_tasks": num_tasks, "seed": seed, "lr": lr}

    def work(self) -> list | None:
        results = []
        per_learner = len(self.protocol["shots"])
        total = per_learner * len(self.jobs)
        for index, (name, learner, task) in enumerate(self.jobs):
            base = index * per_learner
            result = evaluate(learner, task=task, **self.protocol,
                              progress=lambda done, _total, base=base: self.progress.emit(base + done, total),
                              cancelled=self.cancel.is_set)
            if result is None:
                return None
            results.append(dataclasses.replace(result, learner=name))
        return results


class ReproduceWorker(_Worker):
    """:func:`metaviz.reproduce.reproduce` (train, save, evaluate, write table and JSON);
    ``finished`` carries its list of :class:`~metaviz.reproduce.ReproducedRun`."""

    def __init__(self, out_dir: Path, cancel: threading.Event, **options) -> None:
        super().__init__(cancel)
        self.out_dir = Path(out_dir)
        self.options = options

    def work(self) -> list | None:
        return reproduce(self.out_dir, log=self.log.emit, cancelled=self.cancel.is_set, **self.options)


class EvaluationRunner(QObject):
    """GUI-side owner of one worker thread at a time (evaluation or reproduction).

    Signals arrive in the GUI thread; ``finished``, ``cancelled`` and ``error`` fire
    after the thread is joined.
    """

    progress = Signal(int, int)
    log = Signal(str)
    finished = Signal(list)
    cancelled = Signal()
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._cancel = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def evaluate(self, learners: dict[str, Learner], tasks: dict[str, TaskConfig | None] | None = None,
                 shots: Sequence[int] = (5, 10, 20), steps: int = 10, num_tasks: int = 600,
                 seed: int = EVAL_SEED, lr: float | None = None) -> None:
        """Evaluate independent copies of ``learners`` (name -> learner, copied here, in the
        GUI thread); ``tasks`` maps a name to its out-of-distribution ranges."""
        tasks = tasks or {}
        jobs = [(name, independent_copy(learner), tasks.get(name)) for name, learner in learners.items()]
        self._start(EvaluationWorker(jobs, self._fresh_flag(), shots, steps, num_tasks, seed, lr))

    def reproduce(self, out_dir: Path, learners: Sequence[str] = REPRODUCED, seed: int = 0,
                  iterations: int | None = None, num_tasks: int = 600, eval_seed: int = EVAL_SEED,
                  task: TaskConfig | None = None) -> None:
        """Train, save and evaluate the paper's learners into ``out_dir`` (see
        :func:`metaviz.reproduce.reproduce`); log lines arrive through ``log``."""
        self._start(ReproduceWorker(out_dir, self._fresh_flag(), learners=tuple(learners), seed=seed,
                                    iterations=iterations, num_tasks=num_tasks, eval_seed=eval_seed, task=task))

    def cancel(self) -> None:
        """Ask the worker to stop at its next check (between K's or meta-steps); returns
        at once, ``cancelled`` follows when the thread is joined."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Cancel and join now (the view is closing); no outcome signal follows."""
        self._cancel.set()
        self._join()

    def _fresh_flag(self) -> threading.Event:
        if self.running:
            raise RuntimeError("an evaluation is already running")
        self._cancel = threading.Event()
        return self._cancel

    def _start(self, worker: _Worker) -> None:
        self._thread = QThread()
        self._thread.setObjectName("metaviz-evaluation")
        self._worker = worker
        worker.moveToThread(self._thread)
        self._thread.started.connect(worker.run)
        # Bound methods of this GUI-thread object: queued, so they run in the GUI thread.
        worker.progress.connect(self._on_progress)
        worker.log.connect(self._on_log)
        worker.finished.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.error.connect(self._on_error)
        self._thread.start()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self.running:
            self.progress.emit(done, total)

    @Slot(str)
    def _on_log(self, line: str) -> None:
        if self.running:
            self.log.emit(line)

    @Slot(list)
    def _on_finished(self, output: list) -> None:
        if self._join():
            self.finished.emit(output)

    @Slot()
    def _on_cancelled(self) -> None:
        if self._join():
            self.cancelled.emit()

    @Slot(str)
    def _on_error(self, message: str) -> None:
        if self._join():
            self.error.emit(message)

    def _join(self) -> bool:
        """Quit and wait for the thread; False if it was already joined (by shutdown)."""
        thread, worker = self._thread, self._worker
        if thread is None:
            return False
        thread.quit()
        thread.wait()
        self._thread = self._worker = None
        worker.deleteLater()
        thread.deleteLater()
        return True
