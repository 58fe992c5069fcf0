"""The Qt-free training loop: a generator of immutable snapshots.

The CLI iterates it directly; the window's worker thread iterates it and publishes
the latest snapshot. Requests from other threads (stop, pause, step once, new
rates) go through :class:`TrainControl`, which the loop consults between
meta-steps, never in the middle of one.
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import torch

from .evaluation import summarise
from .learners.base import DivergedError, Learner
from .nets import trajectory_mse
from .tasks import TaskBatch, make_generator

VALIDATION_SEED_OFFSET = 1_000_003  # the validation tasks never overlap the training stream
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


def cosine_factor(iteration: int, budget: int, final_fraction: float) -> float:
    """Meta-lr multiplier: 1 at the start, ``final_fraction`` at the budget (cosine)."""
    progress = min(iteration / max(budget, 1), 1.0)
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TrainControl:
    """Thread-safe requests to a running loop: stop, pause, resume, step once, rates.

    ``inner_lr`` and ``meta_lr`` are base rates (the meta lr is then scheduled);
    the loop reads a consistent copy of both before each meta-step.
    """

    def __init__(self, inner_lr: float, meta_lr: float) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._single_steps = 0
        self._rates = (float(inner_lr), float(meta_lr))

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step_once(self) -> None:
        """While paused, allow exactly one more meta-step."""
        with self._cond:
            self._single_steps += 1
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def set_rates(self, inner_lr: float | None = None, meta_lr: float | None = None) -> None:
        with self._cond:
            inner, meta = self._rates
            self._rates = (inner if inner_lr is None else float(inner_lr),
                           meta if meta_lr is None else float(meta_lr))

    def rates(self) -> tuple[float, float]:
        with self._cond:
            return self._rates

    def wait_for_turn(self) -> bool:
        """Block while paused (and no single step is granted); False once stop is requested."""
        with self._cond:
            while self._paused and not self._stop and self._single_steps == 0:
                self._cond.wait()
            if self._stop:
                return False
            if self._paused:
                self._single_steps -= 1
            return True


class Trainer:
    """Owns a learner, its batch stream, the fixed validation set and the history.

    Deterministic for a seed: the batch generator is seeded by ``config.seed`` and
    kept here, so pausing, resuming or stepping one at a time changes nothing.
    """

    def __init__(self, learner: Learner, budget: int | None = None) -> None:
        self.learner = learner
        config = learner.config
        self.budget = config.iterations if budget is None else budget
        self.generator = make_generator(config.seed)
        self.validation_batch = learner.family.sample_batch(
            config.eval_tasks, config.shots, VALIDATION_QUERY,
            make_generator(config.seed + VALIDATION_SEED_OFFSET),
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

        Raises :class:`~metaviz.learners.base.DivergedError` (learner unchanged).
        """
        learner = self.learner
        scheduled = meta_lr * cosine_factor(learner.iteration, self.budget, learner.config.final_lr_fraction)
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

    def run(self, control: TrainControl, params_interval: float = 0.0) -> Iterator[Snapshot]:
        """Meta-steps until the budget is reached or ``control`` asks to stop.

        Parameters are copied into a snapshot at most every ``params_interval``
        seconds (always on validation steps and on the last step).
        """
        last_copy = -math.inf
        while not self.done:
            if not control.wait_for_turn():
                return
            inner_lr, meta_lr = control.rates()
            now = time.monotonic()
            final = self.learner.iteration + 1 >= self.budget
            want_params = final or now - last_copy >= params_interval
            snapshot = self.step(inner_lr, meta_lr, with_params=want_params)
            if snapshot.params is not None:
                last_copy = now
            yield snapshot

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
        """Inverse of :meth:`state_dict`; malformed values raise ``ValueError``."""
        try:
            self.generator.set_state(state["generator"])
            self.budget = int(state["budget"])
            self.elapsed = float(state["elapsed"])
            self.losses = LossHistory((int(i), float(v)) for i, v in state["losses"].tolist())
            self.validations = [ValidationPoint(int(row[0]), tuple(row[1:])) for row in state["validations"].tolist()]
        except (KeyError, TypeError, RuntimeError, AttributeError, ValueError) as exc:
            raise ValueError(f"training history is malformed ({exc})") from exc
