"""Training in a background thread: a worker QObject drives ``Trainer.run``.

The worker only reads :class:`TrainControl` flags and rates between meta-steps and
publishes at most ``PUBLISH_HZ`` progress reports a second (each carrying the losses
accumulated since the previous report, so none are lost). The GUI side, the
:class:`TrainingController`, owns the thread and always joins it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..learners.base import DivergedError
from ..training import Snapshot, TrainControl, Trainer, ValidationPoint

PUBLISH_HZ = 30


@dataclass(frozen=True)
class Progress:
    """One publication: the latest snapshot (``params`` always set) and everything
    appended to the history since the previous publication."""

    session: int
    snapshot: Snapshot
    losses: list[tuple[int, float]]
    validations: list[ValidationPoint]


class TrainWorker(QObject):
    """Lives in its own QThread; :meth:`run` blocks there until done, stopped or diverged.

    Exactly one of ``finished(state)`` ("done" or "stopped"), ``diverged(message)``
    or ``failed(message)`` ends every run.
    """

    published = Signal(object)
    finished = Signal(str)
    diverged = Signal(str)
    failed = Signal(str)

    def __init__(self, trainer: Trainer, control: TrainControl, session: int) -> None:
        super().__init__()
        self.trainer = trainer
        self.control = control
        self.session = session
        self._sent_losses = len(trainer.losses)
        self._sent_validations = len(trainer.validations)

    @Slot()
    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # leave the other core to the GUI thread
        interval = 1.0 / PUBLISH_HZ
        last = None
        last_published = -float("inf")
        try:
            for snapshot in self.trainer.run(self.control, params_interval=interval):
                last = snapshot
                now = time.monotonic()
                # Paused (a single step) or finished: show it at once, whatever the clock says.
                if now - last_published >= interval or self.control.paused or self.trainer.done:
                    self._publish(snapshot)
                    last_published, last = now, None
        except DivergedError as exc:
            self._flush(last)
            self.diverged.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any failure must reach the window, not stderr only
            self._flush(last)
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self._flush(last)
        self.finished.emit("done" if self.trainer.done else "stopped")

    def _flush(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self._publish(snapshot)

    def _publish(self, snapshot: Snapshot) -> None:
        if snapshot.params is None:  # the worker owns the learner: copying here is safe
            snapshot = replace(snapshot, params=self.trainer.learner.parameters_snapshot())
        losses = self.trainer.losses[self._sent_losses:]
        validations = self.trainer.validations[self._sent_validations:]
        self._sent_losses += len(losses)
        self._sent_validations += len(validations)
        self.published.emit(Progress(self.session, snapshot, losses, validations))


class TrainingController(QObject):
    """GUI-side owner of the worker thread: start, pause, resume, step, stop, join.

    ``ended(state, message)`` fires (in the GUI thread, after the thread is joined)
    with state "done", "stopped", "diverged" or "failed".
    """

    progressed = Signal(object)
    ended = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.control: TrainControl | None = None
        self._thread: QThread | None = None
        self._worker: TrainWorker | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, trainer: Trainer, inner_lr: float, meta_lr: float, session: int,
              paused: bool = False) -> None:
        """Run ``trainer`` in a new thread; ``paused`` starts held (see :meth:`step_once`)."""
        if self.running:
            raise RuntimeError("training is already running")
        self.control = TrainControl(inner_lr, meta_lr)
        if paused:
            self.control.pause()
        self._thread = QThread()
        self._thread.setObjectName("metaviz-training")
        self._worker = TrainWorker(trainer, self.control, session)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        # Bound slots of this GUI-thread object: queued connections, so they run here.
        self._worker.published.connect(self._on_published)
        self._worker.finished.connect(self._on_finished)
        self._worker.diverged.connect(self._on_diverged)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()

    def pause(self) -> None:
        if self.control is not None:
            self.control.pause()

    def resume(self) -> None:
        if self.control is not None:
            self.control.resume()

    def step_once(self) -> None:
        if self.control is not None:
            self.control.step_once()

    def set_rates(self, inner_lr: float, meta_lr: float) -> None:
        if self.control is not None:
            self.control.set_rates(inner_lr=inner_lr, meta_lr=meta_lr)

    def stop(self) -> None:
        """Ask the worker to stop and join its thread (returns after at most one meta-step)."""
        if self.control is not None:
            self.control.stop()
        self._join()

    @Slot(object)
    def _on_published(self, progress: Progress) -> None:
        self.progressed.emit(progress)

    @Slot(str)
    def _on_finished(self, state: str) -> None:
        self._end(state, "")

    @Slot(str)
    def _on_diverged(self, message: str) -> None:
        self._end("diverged", message)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._end("failed", message)

    def _end(self, state: str, message: str) -> None:
        if self._thread is None:  # already joined by stop(); the queued signal arrives late
            return
        self._join()
        self.ended.emit(state, message)

    def _join(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is None:
            return
        thread.quit()
        thread.wait()
        self._thread = self._worker = None
        worker.deleteLater()
        thread.deleteLater()
