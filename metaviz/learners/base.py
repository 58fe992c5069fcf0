"""The learner contract shared by the CLI, the training loop, evaluation and the window.

Every learner answers one question, batched over tasks and without touching its own
parameters::

    learner.adapt_trajectory(x_support, y_support, x_query, steps, lr=None)
        x_support, y_support: [T, K, 1]; x_query: [T, Q, 1]
        -> predictions [steps + 1, T, Q, 1] after 0, 1, ..., steps updates

and trains with ``learner.meta_train_step(learner.sample_batch(generator))``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from ..config import TrainConfig
from ..tasks import SinusoidFamily, TaskBatch


class DivergedError(RuntimeError):
    """A meta-step produced a non-finite loss, gradient or parameter.

    The learner keeps its last finite parameters, so training can resume with a
    smaller rate.
    """

    def __init__(self, iteration: int, what: str, inner_lr: float, meta_lr: float) -> None:
        self.iteration = iteration
        self.inner_lr = inner_lr
        self.meta_lr = meta_lr
        super().__init__(
            f"training diverged at iteration {iteration}: {what} became non-finite "
            f"(inner lr {inner_lr:g}, meta lr {meta_lr:g}); the last finite parameters "
            f"are kept: lower a rate and resume"
        )


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    return bool(torch.isfinite(torch.cat([t.reshape(-1) for t in tensors])).all())


class Learner(ABC):
    """Base of every learner: parameters, Adam, rates, a divergence-safe meta-step.

    Subclasses define :meth:`init_tensors`, :meth:`sample_batch`, :meth:`training_loss`,
    :meth:`adapt_trajectory` and :meth:`default_adapt_lr`, and list their trainable
    tensors by name in ``self.tensors`` (checkpoints store exactly these).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.family = SinusoidFamily(config.task)
        self.iteration = 0
        self.inner_lr = config.inner_lr
        self.meta_lr = config.meta_lr
        self.tensors: dict[str, torch.Tensor] = self.init_tensors(torch.Generator().manual_seed(config.seed))
        # beta2 = 0.99: a shorter memory of squared gradients than Adam's default suits
        # the short cosine-decayed schedules used here (measured over 5 seeds, README).
        self.optimizer = torch.optim.Adam(
            list(self.tensors.values()), lr=config.meta_lr, betas=(0.9, 0.99), fused=True
        )

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

    # --- shared behaviour ---------------------------------------------------------
    def set_rates(self, inner_lr: float | None = None, meta_lr: float | None = None) -> None:
        """Change rates between meta-steps; the next step uses them."""
        if inner_lr is not None:
            self.inner_lr = float(inner_lr)
        if meta_lr is not None:
            self.meta_lr = float(meta_lr)
            for group in self.optimizer.param_groups:
                group["lr"] = self.meta_lr

    def meta_train_step(self, batch: TaskBatch) -> dict[str, float]:
        """One optimiser step. Raises :class:`DivergedError` and keeps the old
        parameters if the loss, a gradient or a new parameter is non-finite."""
        params = list(self.tensors.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = self.training_loss(batch)
        if not torch.isfinite(loss):
            raise DivergedError(self.iteration + 1, "the loss", self.inner_lr, self.meta_lr)
        loss.backward()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        if not _all_finite(grads):
            raise DivergedError(self.iteration + 1, "a gradient", self.inner_lr, self.meta_lr)
        backup = [p.detach().clone() for p in params]
        self.optimizer.step()
        if not _all_finite([p.detach() for p in params]):
            with torch.no_grad():
                for p, old in zip(params, backup):
                    p.copy_(old)
            raise DivergedError(self.iteration + 1, "a parameter", self.inner_lr, self.meta_lr)
        self.iteration += 1
        return metrics

    def parameters_snapshot(self) -> dict[str, torch.Tensor]:
        """Detached CPU copies of the trainable tensors (safe to hand to another thread)."""
        return {name: t.detach().clone() for name, t in self.tensors.items()}

    def state_dict(self) -> dict[str, Any]:
        """Plain values and tensors only, loadable with ``torch.load(weights_only=True)``."""
        return {
            "tensors": self.parameters_snapshot(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
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
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise ValueError(f"optimiser state does not match this learner ({exc})") from exc
        self.iteration = int(state.get("iteration", 0))
        self.set_rates(state.get("inner_lr", self.inner_lr), state.get("meta_lr", self.meta_lr))


LEARNERS: dict[str, type[Learner]] = {}


def register(*kinds: str):
    """Class decorator: make a learner constructible by name (CLI, window, checkpoints)."""

    def decorate(cls: type[Learner]) -> type[Learner]:
        for kind in kinds:
            LEARNERS[kind] = cls
        return cls

    return decorate


def make_learner(config: TrainConfig) -> Learner:
    """A freshly initialised learner of ``config.learner``, seeded by ``config.seed``."""
    from . import maml, multitask, pretrained  # noqa: F401  (registration side effect)

    return LEARNERS[config.learner](config)
