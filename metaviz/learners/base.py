"""The learner contract shared by the CLI, the training loop, evaluation and the window.

Every learner answers one question, batched over tasks and without touching its own
parameters::

    learner.adapt_trajectory(x_support, y_support, x_query, steps, lr=None)
        x_support, y_support: [T, K, 1]; x_query: [T, Q, 1]
        -> predictions [steps + 1, T, Q, 1] after 0, 1, ..., steps updates

and trains with ``learner.meta_train_step(learner.sample_batch(generator))``.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from typing import Any

import torch

from ..config import TrainConfig
from ..optim import Adam, flat_gradient, flat_parameters
from ..streams import Stream, stream
from ..tasks import TaskBatch, make_family

# A loss this many times above the loss of predicting zero (and above the loss before
# adaptation, and the first loss of the run) is a blow-up, not slow learning. The same
# rule counts diverged tasks in evaluation.
DIVERGENCE_FACTOR = 100.0


class DivergedError(RuntimeError):
    """A meta-step met a non-finite or blown-up loss, or a non-finite gradient or parameter.

    The learner is left at ``kept_iteration``: the last parameters whose loss was sane,
    so training can resume after lowering a rate.
    """

    def __init__(self, iteration: int, what: str, inner_lr: float, meta_lr: float, kept_iteration: int) -> None:
        self.iteration = iteration
        self.inner_lr = inner_lr
        self.meta_lr = meta_lr
        self.kept_iteration = kept_iteration
        super().__init__(
            f"training diverged at iteration {iteration}: {what} (inner lr {inner_lr:g}, meta lr {meta_lr:g}); "
            f"kept the parameters of iteration {kept_iteration}, the last with a sane loss: "
            f"lower a rate and resume"
        )


def _sane(loss: float, scale: float) -> bool:
    return math.isfinite(loss) and loss <= DIVERGENCE_FACTOR * scale


class Learner(ABC):
    """Base of every learner: parameters, Adam, rates, a divergence-safe meta-step.

    Subclasses define :meth:`init_tensors`, :meth:`sample_batch`, :meth:`training_loss`,
    :meth:`adapt_trajectory` and :meth:`default_adapt_lr`, and list their trainable
    tensors by name in ``self.tensors`` (checkpoints store exactly these).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.family = make_family(config.task)
        # The family writes out every range, so the settings (and checkpoints) list them all.
        self.config = dataclasses.replace(config, task=self.family.config)
        self.iteration = 0
        self.inner_lr = config.inner_lr
        self.meta_lr = config.meta_lr
        self.first_loss: float | None = None  # the untrained model's (unadapted) loss: the scale of "sane"
        self._before_last_step: tuple[torch.Tensor, int] | None = None
        tensors = self.init_tensors(stream(Stream.PARAMETER_INIT, config.seed))
        # Every trainable tensor is a view of one flat buffer: the optimiser, the finite
        # checks and the undo each touch one tensor per step, not one per layer.
        self._flat, views = flat_parameters(list(tensors.values()))
        self.tensors: dict[str, torch.Tensor] = dict(zip(tensors, views))
        # beta2 = 0.99: a shorter memory of squared gradients than Adam's default suits
        # the short cosine-decayed schedules used here (measured over 5 seeds, README).
        self.optimizer = Adam(self._flat, lr=config.meta_lr, betas=(0.9, 0.99))

    @property
    def kind(self) -> str:
        """The registry name this learner was built under (``config.learner``)."""
        return self.config.learner

    # --- what a subclass provides -------------------------------------------------
    @abstractmethod
    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Trainable leaf tensors by name, drawn from ``generator``."""

    @abstractmethod
    def sample_batch(self, generator: torch.Generator) -> TaskBatch:
        """The next meta-training batch."""

    @abstractmethod
    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """A scalar loss to minimise (with graph) and the metrics to report."""

    @abstractmethod
    def adapt_trajectory(
        self,
        x_support: torch.Tensor,
        y_support: torch.Tensor,
        x_query: torch.Tensor,
        steps: int,
        lr: float | None = None,
    ) -> torch.Tensor:
        """Predictions [steps + 1, T, Q, 1] after 0..steps adaptation updates."""

    @abstractmethod
    def default_adapt_lr(self, shots: int) -> float:
        """The test-time rate used when ``lr`` is None, for K = ``shots``."""

    # --- optional: a predictive distribution ------------------------------------------
    #: True for learners that answer :meth:`predictive` (the window draws a band,
    #: evaluation reports NLL and interval coverage).
    has_predictive = False

    def predictive(
        self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation [T, Q, 1] each of y at ``x_query`` after full
        adaptation to the support points; the std includes the observation noise.
        Pure, like :meth:`adapt_trajectory`. Only learners with ``has_predictive``."""
        raise NotImplementedError(f"{self.kind} has no predictive distribution")

    # --- shared behaviour ---------------------------------------------------------
    def set_rates(self, inner_lr: float | None = None, meta_lr: float | None = None) -> None:
        """Change rates between meta-steps; the next step uses them."""
        if inner_lr is not None:
            self.inner_lr = float(inner_lr)
        if meta_lr is not None:
            self.meta_lr = float(meta_lr)
            self.optimizer.lr = self.meta_lr

    def meta_train_step(self, batch: TaskBatch) -> dict[str, float]:
        """One optimiser step; returns the metrics of :meth:`training_loss`.

        Raises :class:`DivergedError` if the loss is non-finite or blown up (then the
        parameters it was measured at came from an overshooting step, which is undone),
        or if a gradient or an updated parameter is non-finite (then no step is taken).
        """
        params = list(self.tensors.values())
        for p in params:
            p.grad = None
        loss, metrics = self.training_loss(batch)
        value = metrics["loss"]
        # The loss before adaptation speaks for the parameters themselves; the loss after
        # it also for the inner rate. Only parameters that are bad themselves are undone.
        unadapted = metrics.get("pre_loss", value)
        zero = torch.cat([batch.y_support, batch.y_query], dim=1).pow(2).mean().item()
        # Until a first loss exists there is no scale for the parameters: only nan/inf count.
        scale = math.inf if self.first_loss is None else max(zero, self.first_loss)
        params_bad = not _sane(unadapted, scale)
        adapted_scale = max(zero, unadapted, self.first_loss or 0.0) if "pre_loss" in metrics else scale
        if params_bad or not _sane(value, adapted_scale):
            if not math.isfinite(value):
                what = "the loss became non-finite"
            else:
                what = (f"the loss reached {value:.3g}, over {DIVERGENCE_FACTOR:g}x the {adapted_scale:.3g} of "
                        f"predicting zero, the untrained model or not adapting")
            failed = self.iteration + 1
            if params_bad:
                self._undo_last_step()  # the previous step overshot into these parameters
            raise DivergedError(failed, what, self.inner_lr, self.meta_lr, self.iteration)
        loss.backward()
        grad = flat_gradient(params)
        if not torch.isfinite(grad).all():
            raise DivergedError(self.iteration + 1, "a gradient became non-finite", self.inner_lr, self.meta_lr,
                                self.iteration)
        backup = self._flat.clone()
        self.optimizer.step(grad)
        if not torch.isfinite(self._flat).all():
            self._restore(backup)
            raise DivergedError(self.iteration + 1, "a parameter became non-finite", self.inner_lr, self.meta_lr,
                                self.iteration)
        self._before_last_step = (backup, self.iteration)
        if self.first_loss is None:
            self.first_loss = unadapted
        self.iteration += 1
        return metrics

    def _undo_last_step(self) -> None:
        """Back to the parameters before the previous optimiser step (once)."""
        if self._before_last_step is not None:
            backup, iteration = self._before_last_step
            self._restore(backup)
            self.iteration = iteration
            self._before_last_step = None

    def _restore(self, backup: torch.Tensor) -> None:
        with torch.no_grad():
            self._flat.copy_(backup)

    def parameters_snapshot(self) -> dict[str, torch.Tensor]:
        """Detached CPU copies of the trainable tensors (safe to hand to another thread):
        views of one copy of the flat buffer, so a snapshot costs one copy (a few us)."""
        copy = self._flat.detach().clone()
        snapshot, offset = {}, 0
        for name, t in self.tensors.items():
            snapshot[name] = copy[offset:offset + t.numel()].view(t.shape)
            offset += t.numel()
        return snapshot

    def state_dict(self) -> dict[str, Any]:
        """Plain values and tensors only, loadable with ``torch.load(weights_only=True)``."""
        return {
            "tensors": self.parameters_snapshot(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "first_loss": self.first_loss,
            "inner_lr": self.inner_lr,
            "meta_lr": self.meta_lr,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; shape or name mismatches raise ``ValueError``."""
        tensors = state.get("tensors")
        if not isinstance(tensors, dict) or set(tensors) != set(self.tensors):
            raise ValueError(
                f"parameter names do not match a {self.kind} learner with this architecture"
            )
        for name, target in self.tensors.items():
            value = tensors[name]
            if not isinstance(value, torch.Tensor) or value.shape != target.shape:
                shape = getattr(value, "shape", type(value).__name__)
                raise ValueError(f"parameter {name} has shape {shape}, expected {tuple(target.shape)}")
            if not torch.isfinite(value).all():
                raise ValueError(f"parameter {name} holds non-finite values")
        with torch.no_grad():
            for name, target in self.tensors.items():
                target.copy_(tensors[name])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state.get("iteration", 0))
        first_loss = state.get("first_loss")
        self.first_loss = None if first_loss is None else float(first_loss)
        self._before_last_step = None
        self.set_rates(state.get("inner_lr", self.inner_lr), state.get("meta_lr", self.meta_lr))
