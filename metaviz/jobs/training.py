"""The Qt-free training loop: a generator of immutable snapshots, and the training job.

The CLI iterates :func:`training_job` through :func:`~metaviz.jobs.drain`; the window's
runner iterates the same job in its worker thread. Rates and the budget come from a
:class:`~metaviz.jobs.control.TrainControl` read before each meta-step, so the GUI
thread never writes what the worker reads.
"""

from __future__ import annotations

import math
import sys
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import torch

from ..config import LIMITS
from ..learners.base import Learner
from ..learners.divergence import DivergedError
from ..nets import trajectory_mse
from ..protocol import summarise
from ..stored import stored_float, stored_int, stored_tensor
from ..streams import Stream, stream, training_batches
from ..tasks import TaskBatch
from .control import TrainControl
from .events import Progress

VALIDATION_STEPS = 10
VALIDATION_QUERY = 100


@dataclass(frozen=True)
class ValidationPoint:
    """Held-out MSE (mean over the validation tasks) after 0..VALIDATION_STEPS steps."""

    iteration: int
    mse: tuple[float, ...]


class LossHistory:
    """(iteration, loss) pairs, stored as two flat arrays: 16 bytes a pair instead of
    ~110 for a tuple in a list, so hours of live training do not grow the process.
    Iterates, indexes and slices like a list of tuples, and compares equal to one."""

    def __init__(self, pairs: Iterable[tuple[int, float]] = ()) -> None:
        self._iterations = array("q")
        self._losses = array("d")
        self.extend(pairs)

    def append(self, pair: tuple[int, float]) -> None:
        self._iterations.append(int(pair[0]))
        self._losses.append(float(pair[1]))

    @classmethod
    def from_tensor(cls, pairs: torch.Tensor) -> LossHistory:
        """From (iteration, loss) rows [n, 2] (a checkpoint's), without a Python object per row."""
        history = cls()
        history._iterations = array("q", pairs[:, 0].to(torch.int64).numpy().tobytes())
        history._losses = array("d", pairs[:, 1].to(torch.float64).contiguous().numpy().tobytes())
        return history

    def extend(self, pairs: Iterable[tuple[int, float]]) -> None:
        for pair in pairs:
            self.append(pair)

    def __len__(self) -> int:
        return len(self._iterations)

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return zip(self._iterations, self._losses)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(zip(self._iterations[index], self._losses[index]))
        return self._iterations[index], self._losses[index]

    def __eq__(self, other: object) -> bool:
        try:
            return list(self) == list(other)  # type: ignore[call-overload]
        except TypeError:
            return NotImplemented


@dataclass(frozen=True)
class Snapshot:
    """The state after one meta-step. ``params`` are detached copies (or None when
    the caller asked for them less often); ``validation`` is set on the steps
    where the held-out set was scored."""

    iteration: int
    budget: int
    loss: float
    inner_lr: float
    meta_lr: float
    elapsed: float
    validation: ValidationPoint | None
    params: Mapping[str, torch.Tensor] | None


def cosine_factor(iteration: int, budget: int, final_fraction: float, warmup: int = 0) -> float:
    """Meta-lr multiplier for the step after ``iteration`` steps: ``(iteration + 1) / w``
    over the first ``w = min(warmup, budget // 2)`` steps, then a cosine from 1 to
    ``final_fraction`` at the budget.

    Why a warm-up: Adam's first updates move every parameter by about the full rate,
    whatever the size of its gradient. Ramping MAML's rate up over 500 steps left fewer
    second-layer ReLU units dead (19 of 40 against 23, seeds 10-29), a lower K=5 error
    and fewer K=5 tasks whose 10-step adaptation blows up (README, bench/seeds.py)."""
    warmup = min(warmup, budget // 2)
    if iteration < warmup:
        return (iteration + 1) / warmup
    progress = min((iteration - warmup) / max(budget - warmup, 1), 1.0)
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    """Owns a learner, its batch stream, the fixed validation set and the history.

    Deterministic for a seed: the batch generator is seeded by ``config.seed`` and
    kept here, so pausing, resuming or stepping one at a time changes nothing.
    """

    def __init__(self, learner: Learner, budget: int | None = None) -> None:
        self.learner = learner
        config = learner.config
        self.budget = config.iterations if budget is None else budget
        self.generator = training_batches(config.seed)
        self.validation_batch = learner.family.sample_batch(
            config.eval_tasks, config.shots, VALIDATION_QUERY, stream(Stream.VALIDATION, config.seed)
        )
        self.losses = LossHistory()
        self.validations: list[ValidationPoint] = []
        self.elapsed = 0.0

    @property
    def done(self) -> bool:
        return self.learner.iteration >= self.budget

    def validate(self) -> ValidationPoint:
        """Mean held-out MSE after 0..VALIDATION_STEPS steps (diverged tasks left out)."""
        batch: TaskBatch = self.validation_batch
        predictions = self.learner.adapt_trajectory(
            batch.x_support, batch.y_support, batch.x_query, VALIDATION_STEPS
        )
        mse = trajectory_mse(predictions, batch.y_query)
        point = ValidationPoint(self.learner.iteration, tuple(summarise(mse, batch.x_support.shape[1]).mean))
        self.validations.append(point)
        return point

    def step(self, inner_lr: float, meta_lr: float, with_params: bool = True) -> Snapshot:
        """One meta-step at ``inner_lr`` and the scheduled ``meta_lr``.

        Raises :class:`~metaviz.learners.divergence.DivergedError` (learner unchanged).
        """
        learner = self.learner
        config = learner.config
        scheduled = meta_lr * cosine_factor(learner.iteration, self.budget, config.final_lr_fraction, config.warmup)
        learner.set_rates(inner_lr=inner_lr, meta_lr=scheduled)
        started = time.perf_counter()
        try:
            metrics = learner.meta_train_step(learner.sample_batch(self.generator))
        except DivergedError:
            self._forget_after(learner.iteration)  # the learner may have stepped back
            raise
        finally:
            self.elapsed += time.perf_counter() - started
        self.losses.append((learner.iteration, metrics["loss"]))
        validation = None
        every = learner.config.eval_every
        if learner.iteration % every == 0 or learner.iteration == self.budget or learner.iteration == 1:
            validation = self.validate()
        return Snapshot(
            iteration=learner.iteration,
            budget=self.budget,
            loss=metrics["loss"],
            inner_lr=inner_lr,
            meta_lr=scheduled,
            elapsed=self.elapsed,
            validation=validation,
            params=learner.parameters_snapshot() if with_params or validation else None,
        )

    def _forget_after(self, iteration: int) -> None:
        """Drop history recorded past ``iteration`` (after the learner undid a step)."""
        self.losses = LossHistory(entry for entry in self.losses if entry[0] <= iteration)
        self.validations = [v for v in self.validations if v.iteration <= iteration]

    def run(self, control: TrainControl, with_params: bool = True) -> Iterator[Snapshot]:
        """Meta-steps until the budget is reached; rates and budget are read from
        ``control`` before each step (pause and stop are the driver's: see jobs.drain)."""
        while True:
            inner_lr, meta_lr = control.rates()
            budget = control.budget()
            if budget is not None:
                self.budget = budget
            if self.done:
                return
            yield self.step(inner_lr, meta_lr, with_params=with_params)

    def state_dict(self) -> dict:
        """Tensors and plain values for a checkpoint: RNG stream, budget and history."""
        validations = torch.tensor([[v.iteration, *v.mse] for v in self.validations], dtype=torch.float64)
        return {
            "generator": self.generator.get_state(),
            "budget": self.budget,
            "elapsed": self.elapsed,
            "losses": torch.tensor(list(self.losses), dtype=torch.float64).reshape(-1, 2),
            "validations": validations.reshape(-1, 2 + VALIDATION_STEPS),
        }

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`, after the learner's (its iteration bounds the history).

        The state may come from an untrusted file: every field is checked (type, dtype,
        shape, real storage, range) before anything changes; a mismatch raises
        ``ValueError`` naming the field."""
        if not isinstance(state, dict):
            raise ValueError(f"trainer state must be a mapping, found a {type(state).__name__}")
        missing = [key for key in ("generator", "budget", "elapsed", "losses", "validations") if key not in state]
        if missing:
            raise ValueError(f"trainer state lacks {', '.join(missing)}")
        iteration = self.learner.iteration
        generator = stored_tensor("trainer.generator", state["generator"], torch.uint8,
                                  self.generator.get_state().shape, finite=False)
        budget = stored_int("trainer.budget", state["budget"], 1, LIMITS["iterations"][1])
        elapsed = stored_float("trainer.elapsed", state["elapsed"], 0.0, sys.float_info.max)
        losses = stored_tensor("trainer.losses", state["losses"], torch.float64, ndim=2)
        validations = stored_tensor("trainer.validations", state["validations"], torch.float64, ndim=2,
                                    finite=False)  # an MSE is nan when every validation task diverged
        for field_name, table, width in (("losses", losses, 2), ("validations", validations, 2 + VALIDATION_STEPS)):
            # One row per meta-step at most: a file cannot make the history outgrow its run.
            if table.shape[1] != width or table.shape[0] > iteration + 1:
                raise ValueError(f"trainer.{field_name} has shape {tuple(table.shape)}, expected at most "
                                 f"{iteration + 1} rows of {width}")
            steps = table[:, 0]
            if not bool((torch.isfinite(steps) & (steps >= 0) & (steps <= iteration) & (steps == steps.round())).all()):
                raise ValueError(f"trainer.{field_name} names iterations outside 0..{iteration}")
        try:
            self.generator.set_state(generator)
        except RuntimeError as exc:
            raise ValueError(f"trainer.generator is not a random generator's state ({exc})") from None
        self.budget, self.elapsed = budget, elapsed
        self.losses = LossHistory.from_tensor(losses)
        self.validations = [ValidationPoint(int(row[0]), tuple(row[1:])) for row in validations.tolist()]


@dataclass(frozen=True)
class TrainingProgress(Progress):
    """One unit of the training job: the latest snapshot and the history appended since
    the previous unit (``losses`` pairs, ``validations``). Merging keeps every entry."""

    snapshot: Snapshot | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    validations: list[ValidationPoint] = field(default_factory=list)

    def merged_after(self, earlier: Progress) -> TrainingProgress:
        if not isinstance(earlier, TrainingProgress):
            return self
        return TrainingProgress(self.done, self.total, self.text, self.snapshot,
                                earlier.losses + self.losses, earlier.validations + self.validations)


def training_job(trainer: Trainer, control: TrainControl, with_params: bool = True) -> Iterator[TrainingProgress]:
    """Train ``trainer`` to its budget, one :class:`TrainingProgress` per meta-step.

    Raises :class:`~metaviz.learners.divergence.DivergedError` out of the generator (the
    learner keeps its last sane parameters and the trainer its trimmed history).
    """
    sent_losses, sent_validations = len(trainer.losses), len(trainer.validations)
    for snapshot in trainer.run(control, with_params=with_params):
        losses = trainer.losses[sent_losses:]
        validations = trainer.validations[sent_validations:]
        sent_losses += len(losses)
        sent_validations += len(validations)
        yield TrainingProgress(snapshot.iteration, snapshot.budget, "training", snapshot, losses, validations)
