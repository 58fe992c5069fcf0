"""The benchmark protocol of PROTOCOL.md as a job, applied to any learner.

Held-out tasks from a generator seeded apart from training; for each K, K support
points and ``num_query`` query points drawn on the family's inputs (independently, so
never the support points); MSE on the queries after 0..steps adaptation steps; mean
and 95% interval. The same tasks and query points serve every K.

The work is done in chunks of tasks, one unit per (chunk, K): cancel answers within a
unit at any task count, and memory is bounded by the chunk (only the [tasks, steps + 1]
MSE table grows). Draws are made chunk by chunk from the same generators in the same
order as one big draw would be, so the numbers do not depend on the chunk size (a test
checks it; label noise is drawn after each chunk's inputs, so with noise they do).

Learners with a predictive distribution (``has_predictive``) are also scored, per K and
after full adaptation, by the negative log-likelihood of the query targets and the
coverage of the 95% interval (mean +- 1.96 std). The MSE is scored against the noise-free
truth, but a predictive distribution that includes the observation noise is a claim about
observations: so these two are scored against noisy query observations, the family's own
``observe`` (truth plus its label noise) drawn from a stream of their own
(``Stream.EVALUATION_QUERY_NOISE``), once per chunk and shared by every K. The MSE
numbers do not change, and on noise-free tasks the targets are the truth itself (with
label noise, these targets too depend on the chunk size, as the support labels do).

An :class:`EvaluationSpec` is a learner's evaluation in a picklable form (settings,
parameters, protocol options), so that worker processes (:mod:`.runs`) can evaluate
several learners at once; every stream is named and seeded, so a learner rebuilt there
gives the numbers it gives here, bit for bit (a test checks it).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..config import TaskConfig, TrainConfig
from ..learners.base import Learner
from ..learners.registry import make_learner
from ..nets import per_task_gaussian_nll, trajectory_mse
from ..oracle import OracleLearner
from ..protocol import EvaluationResult, diverged_mask, interval_coverage, summarise, with_predictive
from ..streams import EVALUATION_SEED, Stream, make_generator, stream
from ..tasks import make_family
from .events import Progress, Result, drain

CHUNK_TASKS = 200  # ~0.05 s per unit for the default MLP: cancel is quick, memory small
MAX_STEPS = 1000
MAX_TASKS = 1_000_000
SHOTS = (5, 10, 20)  # the protocol's K values
NUM_TASKS = 600


# One task at one K costs MAML's evaluation about 16 us per adaptation step on one core
# (0.31 s for the default 600 tasks, K = 5, 10, 20, 10 steps); the zoo's learners take
# from a fifth of that (ANIL) to twice it (CNP). Measured with bench/parallel_evaluation.py.
EVALUATION_STEP_SECONDS = 16e-6


def evaluation_seconds(shots: Sequence[int] = SHOTS, num_tasks: int = NUM_TASKS, steps: int = 10,
                       **_options) -> float:
    """About how long :func:`evaluation_job` with these options takes on one core (MAML-like)."""
    return num_tasks * len(shots) * (steps + 1) * EVALUATION_STEP_SECONDS


def evaluation_units(shots: Sequence[int] = SHOTS, num_tasks: int = NUM_TASKS, chunk: int = CHUNK_TASKS,
                     **_options) -> int:
    """How many units (one per chunk and K) :func:`evaluation_job` with these options reports."""
    return -(-num_tasks // chunk) * len(shots)


def evaluation_job(
    learner: Learner,
    shots: Sequence[int] = SHOTS,
    steps: int = 10,
    num_tasks: int = NUM_TASKS,
    seed: int = EVALUATION_SEED,
    lr: float | None = None,
    task: TaskConfig | None = None,
    num_query: int = 100,
    name: str | None = None,
    chunk: int = CHUNK_TASKS,
) -> Iterator[Progress | Result]:
    """Yields :class:`Progress` per unit, then one :class:`Result` holding the
    :class:`~metaviz.protocol.EvaluationResult` (``learner`` = ``name`` or the learner's kind).

    ``task`` overrides the learner's family and ranges (out-of-distribution probes);
    ``lr=None`` uses each learner's default test-time rate for each K.
    """
    if not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 0 and {MAX_STEPS}, got {steps}")
    if not 2 <= num_tasks <= MAX_TASKS:
        raise ValueError(f"tasks must be between 2 and {MAX_TASKS:,}, got {num_tasks}")
    for k in shots:
        if not 1 <= k <= 1000:
            raise ValueError(f"shots must be between 1 and 1000, got {k}")
    family = make_family(task) if task is not None else learner.family
    generator = make_generator(seed)
    tasks = family.sample_tasks(num_tasks, generator)  # [N, P]: small even for many tasks
    support_generators = {k: stream(Stream.EVALUATION_SUPPORT, seed, k) for k in shots}
    mse: dict[int, list[torch.Tensor]] = {k: [] for k in shots}
    diverged: dict[int, list[torch.Tensor]] = {k: [] for k in shots}
    predictive = getattr(learner, "has_predictive", False)
    noise_generator = stream(Stream.EVALUATION_QUERY_NOISE, seed)
    nll: dict[int, list[torch.Tensor]] = {k: [] for k in shots}
    coverage: dict[int, list[torch.Tensor]] = {k: [] for k in shots}
    total = evaluation_units(shots, num_tasks, chunk)
    done = 0
    for start in range(0, num_tasks, chunk):
        chunk_tasks = tasks[start:start + chunk]
        x_query = family.sample_x(chunk_tasks, num_query, generator)
        y_query = family.truth(chunk_tasks, x_query)  # scored against the noise-free truth
        power = y_query.pow(2).mean(dim=(1, 2))
        if predictive:
            observed = family.observe(chunk_tasks, x_query, noise_generator)  # NLL and coverage targets
        for k in shots:
            g = support_generators[k]
            x_support = family.sample_x(chunk_tasks, k, g)
            y_support = family.observe(chunk_tasks, x_support, g)
            with torch.no_grad():
                predictions = learner.adapt_trajectory(x_support, y_support, x_query, steps, lr)
                if predictive:
                    mean, std = learner.predictive(x_support, y_support, x_query)
                    nll[k].append(per_task_gaussian_nll(mean, std, observed))
                    coverage[k].append(interval_coverage(mean, std, observed))
            errors = trajectory_mse(predictions, y_query)  # [n, steps + 1]
            mse[k].append(errors)
            diverged[k].append(diverged_mask(errors, power))
            done += 1
            yield Progress(done, total, f"{name or learner.kind}: K={k}, tasks {start + 1}-{start + len(chunk_tasks)}")
    curves = {k: summarise(torch.cat(mse[k]), k, torch.cat(diverged[k])) for k in shots}
    if predictive:
        curves = {k: with_predictive(c, torch.cat(nll[k]), torch.cat(coverage[k])) for k, c in curves.items()}
    yield Result(EvaluationResult(
        learner=name or learner.kind,
        iteration=learner.iteration,
        steps=steps,
        num_tasks=num_tasks,
        num_query=num_query,
        seed=seed,
        lr=lr,
        task=family.config.to_dict(),
        curves=curves,
    ))


def evaluate(learner: Learner, **options) -> EvaluationResult:
    """:func:`evaluation_job` run to its end here (the CLI, tests, scripts)."""
    return drain(evaluation_job(learner, **options))


@dataclass(frozen=True)
class EvaluationSpec:
    """One learner's :func:`evaluation_job`, picklable for a worker process.

    ``config`` and ``state`` (the learner's state dict without its optimiser, saved by
    ``torch.save``: CPU tensors, loaded back with ``weights_only`` and checked field by
    field) rebuild the learner; ``config`` None stands for the exact oracle of
    ``options["task"]``. ``options`` are :func:`evaluation_job`'s; ``name`` names the result.
    The state travels as bytes, not tensors: a multiprocessing queue would move tensors
    through shared memory (a file descriptor each, /dev/shm's size), and bytes are a copy
    that later training of the learner cannot reach.
    """

    config: TrainConfig | None
    state: bytes
    options: Mapping[str, Any]
    name: str

    @classmethod
    def of(cls, learner: Learner | OracleLearner, name: str, **options) -> EvaluationSpec:
        """The evaluation of ``learner`` as it is now (later changes to it do not reach the spec)."""
        if isinstance(learner, OracleLearner):
            return cls(None, b"", {**options, "task": options.get("task") or learner.task}, name)
        state = learner.state_dict()
        state.pop("optimizer", None)  # evaluation never steps it
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return cls(learner.config, buffer.getvalue(), dict(options), name)

    def learner(self) -> Learner | OracleLearner:
        """The learner rebuilt: same settings, same parameters, sharing nothing with the original."""
        if self.config is None:
            return OracleLearner(make_family(self.options["task"]))
        learner = make_learner(self.config)
        learner.load_state_dict(torch.load(io.BytesIO(self.state), map_location="cpu", weights_only=True))
        return learner

    @property
    def units(self) -> int:
        return evaluation_units(**self.options)

    @property
    def seconds(self) -> float:
        """About how long it takes on one core (worker processes take the longest first)."""
        return evaluation_seconds(**self.options)

    @property
    def what(self) -> str:
        return f"evaluation of {self.name}"

    @property
    def names(self) -> tuple[str, ...]:
        """The learner and family names it needs registered (a worker loads their plugins)."""
        task = self.options.get("task")
        own = () if self.config is None else (self.config.learner, self.config.task.family)
        return own + ((task.family,) if task is not None else ())

    def job(self) -> Iterator[Progress | Result]:
        """:func:`evaluation_job` on the rebuilt learner."""
        return evaluation_job(self.learner(), name=self.name, **self.options)
