"""The one runner for every job: events arrive in the GUI thread, logs and results are
never dropped, cancel and failures end the job, stop joins at once, and nothing of a
stopped job reaches the job started after it."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from metaviz.jobs import JobControl, Log, Progress, Result
from metaviz.ui.runner import JobRunner

from .conftest import TIMEOUT


class Recorder:
    """on_event / on_end for one job, noting the thread each call ran in."""

    def __init__(self) -> None:
        self.events: list = []
        self.ends: list[tuple[str, BaseException | None]] = []
        self.threads: set = set()

    def on_event(self, event) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(event)

    def on_end(self, outcome, error) -> None:
        self.threads.add(QThread.currentThread())
        self.ends.append((outcome, error))


@pytest.fixture
def runner(qtbot):
    runner = JobRunner("test")
    yield runner
    runner.stop()
    assert not runner.running


def endless(tag: str, closed: threading.Event | None = None):
    """Log lines as fast as the worker can take them, until closed."""
    i = 0
    try:
        while True:
            i += 1
            yield Log(f"{tag}{i}")
    finally:
        if closed is not None:
            closed.set()


def test_a_job_runs_to_the_end_and_reports_in_the_gui_thread(qtbot, runner):
    def job():
        for i in range(1, 2001):
            yield Progress(i, 2000, "working")
            if i % 500 == 0:
                yield Log(f"line {i}")
        yield Result("the answer")

    record = Recorder()
    runner.start(job(), JobControl(), record.on_event, record.on_end)
    assert runner.running
    qtbot.waitUntil(lambda: bool(record.ends), timeout=TIMEOUT)
    assert record.ends == [("finished", None)] and not runner.running
    assert record.threads == {QThread.currentThread()}  # the GUI thread, never the worker's
    logs = [e.text for e in record.events if isinstance(e, Log)]
    assert logs == ["line 500", "line 1000", "line 1500", "line 2000"]  # never dropped, in order
    assert record.events[-1] == Result("the answer")
    progress = [e.done for e in record.events if isinstance(e, Progress)]
    assert progress == sorted(progress) and progress[-1] == 2000  # coalesced, but the last one arrives
    # the progress before each line is delivered before the line
    for index, event in enumerate(record.events):
        if isinstance(event, Log):
            assert record.events[index - 1].done == int(event.text.split()[1])


def test_a_failure_ends_the_job_with_its_exception(qtbot, runner):
    def job():
        yield Progress(1, 2)
        raise ValueError("bad settings")

    record = Recorder()
    runner.start(job(), JobControl(), record.on_event, record.on_end)
    qtbot.waitUntil(lambda: bool(record.ends), timeout=TIMEOUT)
    [(outcome, error)] = record.ends
    assert outcome == "failed" and isinstance(error, ValueError) and str(error) == "bad settings"
    assert not runner.running


def test_cancel_ends_the_job_and_closes_it(qtbot, runner):
    closed = threading.Event()
    record = Recorder()
    runner.start(endless("a", closed), JobControl(), record.on_event, record.on_end)
    qtbot.waitUntil(lambda: bool(record.events), timeout=TIMEOUT)
    runner.cancel()  # returns at once; the end follows
    qtbot.waitUntil(lambda: bool(record.ends), timeout=TIMEOUT)
    assert record.ends == [("cancelled", None)] and not runner.running
    assert closed.is_set()  # the job's own clean-up ran
    with pytest.raises(RuntimeError, match="already running"):
        runner.start(endless("b"), JobControl(), record.on_event, record.on_end)
        runner.start(endless("c"), JobControl(), record.on_event, record.on_end)


def test_nothing_of_a_stopped_job_reaches_the_next_one(qtbot, runner):
    first, second = Recorder(), Recorder()
    runner.start(endless("first"), JobControl(), first.on_event, first.on_end)
    qtbot.waitUntil(lambda: bool(first.events), timeout=TIMEOUT)
    runner.stop()  # joins now: the first job's last events and its end are still queued
    assert not runner.running
    delivered = len(first.events)
    runner.start(endless("second"), JobControl(), second.on_event, second.on_end)
    # Queued events arrive in order: once the second job's first line is here, every
    # late signal of the first job has been handled (and must have been dropped).
    qtbot.waitUntil(lambda: bool(second.events), timeout=TIMEOUT)
    assert runner.running, "the first job's late end must not end the second one"
    assert second.ends == [] and first.ends == []  # stop promises no callback
    assert len(first.events) == delivered
    assert all(event.text.startswith("second") for event in second.events)
    runner.stop()
    assert not runner.running and second.ends == []
