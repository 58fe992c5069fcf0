"""The one runner for every long job: a worker object in a QThread drives any job
generator (:mod:`metaviz.jobs`) and reports back in the GUI thread.

Between units the worker consults the job's :class:`~metaviz.jobs.JobControl` (pause,
step once, stop), so Cancel answers within one unit. Progress is coalesced: the GUI
gets at most ``PUBLISH_HZ`` progress reports a second (each merged with the ones it
replaces, so training losses are never dropped); log lines and results always arrive.
:meth:`JobRunner.stop` cancels and joins; a runner never leaves a thread running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..jobs import JobControl, Progress

PUBLISH_HZ = 30


class _Worker(QObject):
    """Lives in the runner's thread; :meth:`run` iterates the job there."""

    event = Signal(object)
    ended = Signal(str, object)  # outcome, exception or None

    def __init__(self, job: Iterator, control: JobControl) -> None:
        super().__init__()
        self.job = job
        self.control = control

    @Slot()
    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # leave the other core to the GUI thread
        interval = 1.0 / PUBLISH_HZ
        pending: Progress | None = None
        last = -float("inf")
        outcome, error = "finished", None
        try:
            while True:
                if pending is not None and self.control.paused:  # about to wait: show where we are
                    self.event.emit(pending)
                    pending, last = None, time.monotonic()
                if not self.control.wait_for_turn():
                    outcome = "cancelled"
                    break
                try:
                    item = next(self.job)
                except StopIteration:
                    break
                if isinstance(item, Progress):
                    pending = item if pending is None else item.merged_after(pending)
                    now = time.monotonic()
                    if now - last >= interval:
                        self.event.emit(pending)
                        pending, last = None, now
                else:  # a log line or a result: never dropped, and after the progress before it
                    if pending is not None:
                        self.event.emit(pending)
                        pending = None
                    self.event.emit(item)
        except Exception as exc:  # noqa: BLE001 - every failure reaches the GUI, not stderr alone
            outcome, error = "failed", exc
        finally:
            self.job.close()  # a cancelled job cleans up here, in its own thread
        if pending is not None:
            self.event.emit(pending)
        self.ended.emit(outcome, error)


class JobRunner(QObject):
    """GUI-side owner of one job thread at a time (implements the explorer's Runner)."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._control: JobControl | None = None
        self._on_event: Callable[[Any], None] | None = None
        self._on_end: Callable[[str, BaseException | None], None] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, job: Iterator, control: JobControl, on_event: Callable[[Any], None],
              on_end: Callable[[str, BaseException | None], None]) -> None:
        """Run ``job`` in a new thread. ``on_event(event)`` and, once the thread is joined,
        ``on_end(outcome, error)`` are called in the GUI thread."""
        if self.running:
            raise RuntimeError(f"{self.name}: a job is already running")
        self._control, self._on_event, self._on_end = control, on_event, on_end
        self._thread = QThread()
        self._thread.setObjectName(f"metaviz-{self.name}")
        self._worker = _Worker(job, control)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        # Bound slots of this GUI-thread object: queued connections, so they run here.
        self._worker.event.connect(self._deliver)
        self._worker.ended.connect(self._finish)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop at its next unit; returns at once (``on_end`` follows)."""
        if self._control is not None:
            self._control.stop()

    def stop(self) -> None:
        """Cancel and join now; no callback of this job follows."""
        self.cancel()
        self._join()

    def _from_current_worker(self) -> bool:
        """The signal being handled comes from this job's worker, not from one that was
        stopped (joined) before it and whose last signals were still queued."""
        return self._worker is not None and self.sender() is self._worker

    @Slot(object)
    def _deliver(self, event: Any) -> None:
        if self._from_current_worker() and self._on_event is not None:
            self._on_event(event)

    @Slot(str, object)
    def _finish(self, outcome: str, error: object) -> None:
        if not self._from_current_worker():
            return  # a stopped job's late "ended" must not end the job started after it
        on_end = self._on_end
        if self._join() and on_end is not None:
            on_end(outcome, error)

    def _join(self) -> bool:
        """Quit and wait for the thread; False if it was already joined."""
        thread, worker = self._thread, self._worker
        if thread is None:
            return False
        if self._control is not None:
            self._control.stop()
            self._control.resume()  # a paused job must wake to see the stop
        thread.quit()
        thread.wait()
        self._thread = self._worker = None
        self._control = self._on_event = self._on_end = None
        worker.deleteLater()
        thread.deleteLater()
        return True
