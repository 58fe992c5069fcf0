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
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch

from ..config import LIMITS, MAX_RATE, TrainConfig
from ..devices import check_choice
from ..optim import Adam, flat_gradient, flat_parameters
from ..stored import stored_float, stored_int, stored_tensor
from ..streams import Stream, stream
from ..tasks import TaskBatch, make_family
from .divergence import DivergedError, blow_up, sane
from .inputs import checked_adaptation, checked_predictive


class Learner(ABC):
    """Base of every learner: parameters, Adam, rates, a divergence-safe meta-step.

    Subclasses define :meth:`init_tensors`, :meth:`sample_batch`, :meth:`training_loss`,
    :meth:`adapt_trajectory` and :meth:`default_adapt_lr`, and list their trainable
    tensors by name in ``self.tensors`` (checkpoints store exactly these).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # adapt_trajectory and predictive are the public API, written by every learner
        # (plugins too). Rather than trust each to check its arguments, the class that
        # defines one gets it wrapped here, once, with the checks of .inputs: bad input is
        # a ValueError naming the argument, never a raw torch error. A method already
        # wrapped (inherited, or a super() chain) is left as it is. The training loop does
        # not pass through them (meta_train_step calls training_loss), so it pays nothing.
        super().__init_subclass__(**kwargs)
        for name, wrap in (("adapt_trajectory", checked_adaptation), ("predictive", checked_predictive)):
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "checks_inputs", False):
                setattr(cls, name, wrap(method))

    def __init__(self, config: TrainConfig) -> None:
        self.family = make_family(config.task)
        # The family writes out every range, so the settings (and checkpoints) list them all.
        self.config = dataclasses.replace(config, task=self.family.config)
        self.iteration = 0
        self.inner_lr = config.inner_lr
        self.meta_lr = config.meta_lr
        self.first_loss: float | None = None  # the untrained model's (unadapted) loss: the scale of "sane"
        # (parameters, optimiser state, iteration) before the last step, to undo an overshoot.
        self._before_last_step: tuple[torch.Tensor, tuple, int] | None = None
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

    # --- optional: adaptation without gradient steps -----------------------------------
    #: False for a learner that adapts without gradient steps at test time (a closed-form
    #: posterior, an encoder's forward pass): its curve over steps is flat, and the window
    #: shows ``steps_note`` (a few words: why) beside it.
    gradient_steps = True
    steps_note = ""

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

    # --- the device -------------------------------------------------------------------
    #: Devices this learner's code is written for. The default is the CPU only: a learner
    #: that keeps tensors of its own beside ``self.tensors`` (a pool, a prior) must move
    #: them too. Its callers always pass and receive CPU tensors.
    devices: tuple[str, ...] = ("cpu",)

    @property
    def device(self) -> torch.device:
        return self._flat.device

    def to(self, device: str | torch.device) -> Learner:
        """Move the parameters and the optimiser's state to ``device`` ('cpu' or 'cuda');
        returns self. Checkpoints still hold CPU tensors."""
        device = torch.device(device)
        if device.type not in self.devices:
            raise ValueError(f"device: {self.kind} runs on {' or '.join(self.devices)}, not {device.type}")
        check_choice(device.type)
        if device != self._flat.device:
            self._flat, views = flat_parameters([t.detach().to(device) for t in self.tensors.values()])
            self.tensors = dict(zip(self.tensors, views))
            self.optimizer.follow(self._flat)
            self._before_last_step = None  # an undo across a move is not offered
        return self

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
        metrics, gradient = self.meta_gradient(batch)
        value = metrics["loss"]
        # The loss before adaptation speaks for the parameters themselves; the loss after
        # it also for the inner rate. Only parameters that are bad themselves are undone.
        unadapted = metrics.get("pre_loss", value)
        zero_loss: list[float] = []

        def zero() -> float:  # the loss of predicting zero on this batch, computed once if asked
            if not zero_loss:
                zero_loss.append(torch.cat([batch.y_support, batch.y_query], dim=1).pow(2).mean().item())
            return zero_loss[0]

        # Until a first loss exists there is no scale for the parameters: only nan/inf count.
        scale = math.inf if self.first_loss is None else self.first_loss
        params_bad = not sane(unadapted, scale, zero)
        adapted_scale = max(unadapted, self.first_loss or 0.0) if "pre_loss" in metrics else scale
        if params_bad or not sane(value, adapted_scale, zero):
            references = {"the loss of predicting zero on this batch": zero(),
                          "the run's first loss (the untrained model's)": self.first_loss}
            if params_bad:
                measured = "the loss before adaptation" if "pre_loss" in metrics else "the loss"
                what = blow_up(measured, unadapted, references)
            else:
                if "pre_loss" in metrics:
                    references["this batch's loss before adaptation"] = unadapted
                what = blow_up("the loss", value, references)
            failed = self.iteration + 1
            if params_bad:
                self._undo_last_step()  # the previous step overshot into these parameters
            raise DivergedError(failed, what, self.inner_lr, self.meta_lr, self.iteration)
        grad = gradient()
        # The optimiser's moments and step count are kept with the parameters: an undone
        # step leaves the state of the kept iteration whole, so a resumed run is exact.
        backup = (self._flat.clone(), self.optimizer.snapshot())
        self.optimizer.step(grad)
        # One check after the step covers the gradient too (Adam carries a nan or inf in the
        # gradient into the parameters it moves); which of the two it was is asked only then.
        if not torch.isfinite(self._flat).all():
            self._restore(backup)
            what = "a gradient" if not torch.isfinite(grad).all() else "a parameter"
            raise DivergedError(self.iteration + 1, f"{what} became non-finite", self.inner_lr, self.meta_lr,
                                self.iteration)
        self._before_last_step = (*backup, self.iteration)
        if self.first_loss is None:
            self.first_loss = unadapted
        self.iteration += 1
        return metrics

    def meta_gradient(self, batch: TaskBatch) -> tuple[dict[str, float], Callable[[], torch.Tensor]]:
        """The metrics of :meth:`training_loss` and a function giving the flat gradient [N]
        of its loss, called only when the loss is sane. Learners with a faster way to the
        gradient than autograd (MAML's hand-derived one) override this."""
        params = list(self.tensors.values())
        for p in params:
            p.grad = None
        loss, metrics = self.training_loss(batch)

        def gradient() -> torch.Tensor:
            loss.backward()
            return flat_gradient(params)

        return metrics, gradient

    def _undo_last_step(self) -> None:
        """Back to the parameters before the previous optimiser step (once)."""
        if self._before_last_step is not None:
            *backup, iteration = self._before_last_step
            self._restore(backup)
            self.iteration = iteration
            self._before_last_step = None

    def _restore(self, backup) -> None:
        """Back to (parameters [N], optimiser snapshot) taken before a step."""
        flat, optimizer = backup
        with torch.no_grad():
            self._flat.copy_(flat)
        self.optimizer.restore(optimizer)

    def parameters_snapshot(self) -> dict[str, torch.Tensor]:
        """Detached CPU copies of the trainable tensors (safe to hand to another thread):
        views of one copy of the flat buffer, so a snapshot costs one copy (a few us)."""
        copy = self._flat.detach().to("cpu", copy=True)
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
        """Restore from :meth:`state_dict`. The state may come from an untrusted file: every
        field is checked (:mod:`metaviz.stored`: type, dtype, shape, real storage, range)
        before anything changes; a mismatch raises ``ValueError`` naming the field."""
        if not isinstance(state, dict):
            raise ValueError(f"learner state must be a mapping, found a {type(state).__name__}")
        tensors = state.get("tensors")
        if not isinstance(tensors, dict) or set(tensors) != set(self.tensors):
            raise ValueError(
                f"parameter names do not match a {self.kind} learner with this architecture"
            )
        values = {name: stored_tensor(f"parameter {name}", tensors[name], target.dtype, target.shape)
                  for name, target in self.tensors.items()}
        iteration = stored_int("learner.iteration", state.get("iteration", 0), 0, LIMITS["iterations"][1])
        first_loss = state.get("first_loss")
        if first_loss is not None:
            first_loss = stored_float("learner.first_loss", first_loss, 0.0, sys.float_info.max)
        inner_lr, meta_lr = (stored_float(f"learner.{key}", state.get(key, getattr(self, key)), 0.0, MAX_RATE,
                                          include_minimum=False) for key in ("inner_lr", "meta_lr"))
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])  # checks all of it before changing any
        with torch.no_grad():
            for name, target in self.tensors.items():
                target.copy_(values[name])
        self.iteration = iteration
        self.first_loss = first_loss
        self._before_last_step = None
        self.set_rates(inner_lr, meta_lr)
