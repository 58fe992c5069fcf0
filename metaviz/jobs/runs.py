"""Independent work on every core: training runs (train, save, optionally evaluate) and
evaluations of trained learners.

A piece of work is a picklable spec, a :class:`RunSpec` or an
:class:`~metaviz.jobs.evaluation.EvaluationSpec`: ``units`` (its progress units),
``what`` (its name in an error), ``names`` (the learners and families it needs),
``seconds`` (about how long it takes: workers take the longest first) and ``job()``
(a job generator: :class:`Progress` out of ``units``, :class:`Log` lines, one
:class:`Result`). :func:`runs_job` does a list of them as one job, in this process
(``workers=1``) or in worker processes, one spec per process at a time, each with one
torch thread (two threads in one process barely help these small models; two processes
nearly double the throughput, README "Speed"). Both ways drive the specs with the same
:func:`_drive`, and the same :func:`_gather` turns what it sends into the job's events.
The workers load the plugins the specs' learners and families come from; their events
come back through a queue; closing the job (Cancel, closing the window) terminates them,
and the checkpoints they had finished stay complete (every write is atomic).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoint import save_checkpoint
from ..config import TrainConfig
from ..learners import DivergedError, learner_spec, make_learner
from ..learners.registry import LEARNER_REGISTRY
from ..plugins import PluginError, load_module_plugin, load_plugin_file
from ..protocol import EvaluationResult
from ..tasks import FAMILY_REGISTRY
from .control import TrainControl
from .evaluation import NUM_TASKS, SHOTS, EvaluationSpec, evaluation_job, evaluation_seconds, evaluation_units
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
        return self.config.iterations + (0 if self.evaluate is None else evaluation_units(**self.evaluate))

    @property
    def seconds(self) -> float:
        """About how long it takes on one core (its learner's declared ``step_ms``): worker
        processes take the longest first."""
        training = self.config.iterations * learner_spec(self.config.learner).step_ms / 1000
        return training + (0.0 if self.evaluate is None else evaluation_seconds(**self.evaluate))

    @property
    def what(self) -> str:
        return f"run {self.name or self.config.learner}"

    @property
    def names(self) -> tuple[str, ...]:
        """The learner and family names it needs registered (a worker loads their plugins)."""
        task = (self.evaluate or {}).get("task")
        return (self.config.learner, self.config.task.family) + ((task.family,) if task is not None else ())

    def job(self) -> Iterator[Progress | Log | Result]:
        """:func:`run_job` of this spec."""
        return run_job(self)


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


def run_job(spec: RunSpec) -> Iterator[Progress | Log | Result]:
    """Do ``spec``: progress now and then, a log line at its start and end, and its
    :class:`RunOutcome` as the result."""
    config = spec.config
    trainer = Trainer(make_learner(config))
    control = TrainControl(config.inner_lr, config.meta_lr)
    label = spec.name or config.learner
    yield Log(f"training {label} for {config.iterations} iterations")
    started = time.perf_counter()
    diverged = None
    try:
        for progress in training_job(trainer, control, with_params=False):
            if progress.done % REPORT_EVERY == 0:
                yield Progress(progress.done, spec.units, f"training {label}")
    except DivergedError as exc:
        diverged = str(exc)
    seconds = time.perf_counter() - started
    path = save_checkpoint(spec.checkpoint, trainer)
    yield Log(f"wrote {path} ({seconds:.1f} s of training)" + (f"; diverged: {diverged}" if diverged else ""))
    result = None
    if spec.evaluate is not None and diverged is None:
        for event in evaluation_job(trainer.learner, name=spec.name or None, **spec.evaluate):
            if isinstance(event, Result):
                result = event.value
            else:
                yield Progress(config.iterations + event.done, spec.units, f"evaluating {label}")
    last = trainer.validations[-1].mse if trainer.validations else ()
    yield Result(RunOutcome(label, path, seconds, trainer.learner.iteration, result, diverged, tuple(last)))


Spec = RunSpec | EvaluationSpec


@dataclass(frozen=True)
class Failure:
    """A spec failed in a worker process; ``text`` is the error in one line."""

    text: str


# Measured on this project's 2-core machine (bench/parallel_evaluation.py, README "Speed"):
# two spawned workers are ready to work (torch and metaviz imported) 0.9-1.15 s after the
# start. Two learners of 2,000 tasks each (evaluation_seconds) took 2.2 s one after
# another and 2.2 s in two processes: the break-even the rule below draws.
WORKER_START_SECONDS = 1.1


def default_workers(runs: int) -> int:
    """One process per core, never more than there are runs."""
    return max(1, min(runs, os.cpu_count() or 1))


def evaluation_workers(learners: int, shots: Sequence[int] = SHOTS, num_tasks: int = NUM_TASKS, steps: int = 10,
                       **_options) -> int:
    """How many processes should evaluate ``learners`` learners with these protocol options:
    one (here) unless the time ``workers`` processes save, on a MAML-like estimate of the
    work, exceeds their start-up. The default protocol stays here for any number of
    learners (0.3 s each, less than a worker takes to start); with 2 learners, processes
    pay from about 2,000 tasks."""
    workers = default_workers(learners)
    seconds = learners * evaluation_seconds(shots, num_tasks, steps)
    return workers if seconds * (1 - 1 / workers) > WORKER_START_SECONDS else 1


def runs_job(specs: list[Spec], workers: int = 1) -> Iterator[Progress | Log | Result]:
    """Do every spec; the result is the list of their results (:class:`RunOutcome`,
    :class:`~metaviz.protocol.EvaluationResult`) in the order of ``specs``. With
    ``workers`` > 1 the specs go to that many processes at a time."""
    sent = _parallel(specs, workers) if workers > 1 and len(specs) > 1 else _drive(enumerate(specs))
    try:
        yield from _gather(specs, sent)
    finally:
        sent.close()  # terminates the workers, if any, when the job is closed or fails


def _drive(indexed: Iterable[tuple[int, Spec]]) -> Iterator[tuple[int, Progress | Log | Result]]:
    """The one driver, here and in a worker: each spec's job run to its end, in turn, its
    events tagged with the spec's index."""
    for index, spec in indexed:
        for event in spec.job():
            yield index, event


def _gather(specs: list[Spec], sent: Iterator[tuple[int | None, object]]) -> Iterator[Progress | Log | Result]:
    """The job's events from what the specs sent: progress summed over every spec, log
    lines as they come, a :class:`Failure` as a ``RuntimeError``, the results in order
    (``None`` for an event: no news; the progress so far again)."""
    total = sum(spec.units for spec in specs)
    results: dict[int, object] = {}
    done = [0] * len(specs)
    text = "starting"
    for index, event in sent:
        if event is None:  # a while without news (workers starting): a unit all the same, so Cancel is seen
            yield Progress(sum(done), total, text)
        elif isinstance(event, Progress):
            done[index], text = event.done, event.text
            yield Progress(sum(done), total, text)
        elif isinstance(event, Result):
            results[index] = event.value
            done[index] = specs[index].units
        elif isinstance(event, Failure):
            raise RuntimeError(f"{specs[index].what} failed: {event.text}")
        else:
            yield event
    yield Result([results[i] for i in range(len(specs))])


# --- worker processes ----------------------------------------------------------------------
def _plugin_origins(specs: list[Spec]) -> list[str]:
    """Where the plugins declaring the specs' learners and families came from (files or
    module names): a spawned worker starts with the built-in ones only."""
    names = {name for spec in specs for name in spec.names}
    origins = {registry.origin(name) for registry in (LEARNER_REGISTRY, FAMILY_REGISTRY)
               for name in names if name in registry.names()}
    return sorted(origin for origin in origins if origin is not None)


# glibc's malloc options (mallopt): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEPT_BYTES = 64 << 20


def _keep_freed_memory() -> None:
    """In a worker: let glibc keep freed blocks up to KEPT_BYTES for reuse instead of
    returning each large one to the system. An evaluation allocates and frees tensors of
    varying sizes over 128 KB all the time; by default each is a fresh mapping, zeroed page
    by page by the kernel (126,000 page faults for one 5,000-task evaluation), and two
    workers doing that side by side slowed each other by 20-35%. Measured on MAML's
    5,000-task evaluation: 61,000 faults and 2.1-2.2 s alone instead of 2.3-2.7 s. Only
    workers do this: the window's own process keeps its memory footprint. Elsewhere than
    glibc, nothing happens."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, KEPT_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * KEPT_BYTES)
    except (OSError, AttributeError):
        pass


def _worker(origins: list[str], tasks, messages) -> None:
    """A worker process: specs taken from ``tasks`` until a None, their events sent
    through ``messages``. One process serves several specs, so torch is imported once
    per core, not once per spec (about 1 s each)."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    _keep_freed_memory()
    problem = None
    try:  # the parent loaded them already, so this fails only if a file changed since
        for origin in origins:
            (load_plugin_file if Path(origin).is_file() else load_module_plugin)(origin)
    except PluginError as exc:
        problem = str(exc)
    for item in iter(tasks.get, None):
        try:
            if problem is not None:
                raise PluginError(problem)
            for message in _drive([item]):
                messages.put(message)
        except Exception as exc:  # noqa: BLE001 - the parent reports it in one line
            messages.put((item[0], Failure(f"{type(exc).__name__}: {exc}")))


def longest_first(specs: list[Spec]) -> list[tuple[int, Spec]]:
    """(index, spec) in the order workers take them: the longest first (by ``seconds``), so
    that the last one a worker takes is short and the workers end nearly together (the
    zoo preset in two workers: 1.70x with the declared order, README "Speed")."""
    return sorted(enumerate(specs), key=lambda item: -item[1].seconds)


def _parallel(specs: list[Spec], workers: int) -> Iterator[tuple[int | None, object]]:
    """``workers`` long-lived processes take the specs in turn; what they send, as it
    comes, and ``(None, None)`` after 0.1 s without news. A worker that dies without a word
    (killed, out of memory) fails the job with one line; closing this generator terminates
    them all."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    tasks, messages = context.Queue(), context.Queue()
    for item in longest_first(specs):
        tasks.put(item)
    count = min(workers, len(specs))
    for _ in range(count):
        tasks.put(None)
    origins = _plugin_origins(specs)
    processes = [context.Process(target=_worker, args=(origins, tasks, messages), daemon=True)
                 for _ in range(count)]
    yield None, Log(f"{len(specs)} jobs in {count} worker processes")
    finished = 0
    try:
        for process in processes:
            process.start()
        while finished < len(specs):
            try:
                message = messages.get(timeout=0.1)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if not dead:
                    yield None, None
                    continue
                try:  # its last message may still be in the pipe: look once more before failing
                    message = messages.get(timeout=1.0)
                except queue.Empty:
                    raise RuntimeError(f"a worker process ended without a result (exit code {dead[0].exitcode})")\
                        from None
            finished += isinstance(message[1], Result)
            yield message
    finally:
        for process in processes:  # on Cancel (the job is closed) or a failure; idle ones too
            if process.is_alive():
                process.terminate()
            if process.pid is not None:
                process.join()
