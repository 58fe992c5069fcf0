"""Independent runs (train, save, optionally evaluate) on every core.

A run is described by a picklable :class:`RunSpec`; :func:`run_one` does it in this
process, :func:`runs_job` does a list of them as a job, in this process (``workers=1``)
or in worker processes, one run per process at a time, each with one torch thread
(two threads in one process barely help these small models; two processes nearly
double the throughput, README "Speed"). Progress from the workers comes back through
a queue; closing the job (Cancel, closing the window) terminates the workers, and the
checkpoints they had finished stay complete (every write is atomic).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoint import save_checkpoint
from ..config import TrainConfig
from ..learners import DivergedError, make_learner
from ..protocol import EvaluationResult
from .control import TrainControl
from .evaluation import CHUNK_TASKS, evaluation_job
from .events import Log, Progress, Result
from .training import Trainer, training_job

REPORT_EVERY = 50  # meta-steps between progress reports from a run


@dataclass(frozen=True)
class RunSpec:
    """Train ``config`` to its budget, save it at ``checkpoint``, then (if ``evaluate`` is
    given) run the protocol with those options of :func:`~metaviz.jobs.evaluation.evaluation_job`."""

    config: TrainConfig
    checkpoint: Path
    evaluate: Mapping[str, Any] | None = None
    name: str = ""

    @property
    def units(self) -> int:
        """Progress units: one per meta-step, one per evaluation chunk and K."""
        if self.evaluate is None:
            return self.config.iterations
        tasks = self.evaluate.get("num_tasks", 600)
        return self.config.iterations + -(-tasks // CHUNK_TASKS) * len(self.evaluate.get("shots", (5, 10, 20)))


@dataclass(frozen=True)
class RunOutcome:
    """What a run left: its checkpoint, its training time, its evaluation (or None) and,
    if training diverged, the message (the checkpoint then holds the last sane parameters)."""

    learner: str
    checkpoint: Path
    train_seconds: float
    iterations: int
    result: EvaluationResult | None = None
    diverged: str | None = None
    final_mse: tuple[float, ...] = field(default=())


def run_steps(spec: RunSpec) -> Iterator[tuple[int, str]]:
    """Do ``spec``, yielding (units done, what) now and then; returns its :class:`RunOutcome`."""
    config = spec.config
    trainer = Trainer(make_learner(config))
    control = TrainControl(config.inner_lr, config.meta_lr)
    label = spec.name or config.learner
    started = time.perf_counter()
    diverged = None
    try:
        for progress in training_job(trainer, control, with_params=False):
            if progress.done % REPORT_EVERY == 0:
                yield progress.done, f"training {label}"
    except DivergedError as exc:
        diverged = str(exc)
    seconds = time.perf_counter() - started
    path = save_checkpoint(spec.checkpoint, trainer)
    result = None
    if spec.evaluate is not None and diverged is None:
        for event in evaluation_job(trainer.learner, name=spec.name or None, **spec.evaluate):
            if isinstance(event, Result):
                result = event.value
            else:
                yield config.iterations + event.done, f"evaluating {label}"
    last = trainer.validations[-1].mse if trainer.validations else ()
    return RunOutcome(label, path, seconds, trainer.learner.iteration, result, diverged, tuple(last))


def default_workers(runs: int) -> int:
    """One process per core, never more than there are runs."""
    return max(1, min(runs, os.cpu_count() or 1))


# --- worker processes ----------------------------------------------------------------------
def _worker(tasks, messages) -> None:
    """A worker process: runs taken from ``tasks`` until a None, reported through
    ``messages``. One process serves several runs, so torch is imported once per core,
    not once per run (about 1.5 s each)."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    for index, spec in iter(tasks.get, None):
        steps = run_steps(spec)
        try:
            while True:
                try:
                    done, text = next(steps)
                except StopIteration as stop:
                    messages.put(("done", index, stop.value))
                    break
                messages.put(("progress", index, done, text))
        except Exception as exc:  # noqa: BLE001 - the parent reports it in one line
            messages.put(("failed", index, f"{type(exc).__name__}: {exc}"))


def runs_job(specs: list[RunSpec], workers: int = 1) -> Iterator[Progress | Log | Result]:
    """Do every run; the result is the list of :class:`RunOutcome` in the order of ``specs``.
    With ``workers`` > 1 the runs go to that many processes at a time."""
    total = sum(spec.units for spec in specs)
    if workers > 1 and len(specs) > 1:
        yield from _parallel(specs, workers, total)
        return
    outcomes, base = [], 0
    for spec in specs:
        yield Log(f"training {spec.name or spec.config.learner} for {spec.config.iterations} iterations")
        steps = run_steps(spec)
        while True:
            try:
                done, text = next(steps)
            except StopIteration as stop:
                outcomes.append(stop.value)
                break
            yield Progress(base + done, total, text)
        base += spec.units
        yield Log(_describe(outcomes[-1]))
    yield Result(outcomes)


def _describe(outcome: RunOutcome) -> str:
    text = f"wrote {outcome.checkpoint} ({outcome.train_seconds:.1f} s of training)"
    return text + (f"; diverged: {outcome.diverged}" if outcome.diverged else "")


def _parallel(specs: list[RunSpec], workers: int, total: int) -> Iterator[Progress | Log | Result]:
    """``workers`` long-lived processes take the runs in turn. A worker that dies without
    a word (killed, out of memory) fails the job with one line; closing the job
    terminates them all."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    tasks, messages = context.Queue(), context.Queue()
    for item in enumerate(specs):
        tasks.put(item)
    count = min(workers, len(specs))
    for _ in range(count):
        tasks.put(None)
    processes = [context.Process(target=_worker, args=(tasks, messages), daemon=True) for _ in range(count)]
    outcomes: dict[int, RunOutcome] = {}
    done_by_run = [0] * len(specs)
    yield Log(f"{len(specs)} runs in {count} processes")
    try:
        for process in processes:
            process.start()
        while len(outcomes) < len(specs):
            try:
                message = messages.get(timeout=0.1)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if not dead:
                    continue
                try:  # its last message may still be in the pipe: look once more before failing
                    message = messages.get(timeout=1.0)
                except queue.Empty:
                    raise RuntimeError(f"a worker process ended without a result (exit code {dead[0].exitcode})")\
                        from None
            kind, index = message[0], message[1]
            if kind == "progress":
                done_by_run[index] = message[2]
                yield Progress(sum(done_by_run), total, message[3])
            elif kind == "failed":
                raise RuntimeError(f"run {specs[index].name or specs[index].config.learner} failed: {message[2]}")
            else:
                outcomes[index] = message[2]
                done_by_run[index] = specs[index].units
                yield Log(_describe(outcomes[index]))
        yield Result([outcomes[i] for i in range(len(specs))])
    finally:
        for process in processes:  # on Cancel (the job is closed) or a failure; idle ones too
            if process.is_alive():
                process.terminate()
            if process.pid is not None:
                process.join()
