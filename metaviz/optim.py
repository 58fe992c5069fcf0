"""Adam on one flat parameter buffer, as ``torch.optim.Adam(fused=True)`` computes it
with its default options (no weight decay, no AMSGrad): by torch's fused kernel.

Why not ``torch.optim.Adam``: constructing any ``torch.optim`` optimiser imports
``torch._dynamo``, about 80 MB of resident memory and most of a second at start-up,
for nothing these small models use. Why one flat buffer: a learner's parameters are
leaf views of it (:func:`flat_parameters`), so an update is one kernel over the whole
buffer instead of a handful per tensor. A test checks this class against torch's
(unfused) Adam step for step, to 1e-12 in float64.
"""

from __future__ import annotations

from typing import Any

import torch

from .config import MAX_RATE
from .stored import stored_float, stored_int, stored_tensor

# More optimiser steps than any run can take (the iteration budget is bounded far below).
MAX_STEPS = 2**31 - 1


def flat_parameters(tensors: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Copy ``tensors`` into one contiguous buffer [N]; return it and leaf views of it
    (``requires_grad=True``) in the tensors' shapes. Updating the buffer in place
    updates every view."""
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    views, offset = [], 0
    for t in tensors:
        views.append(flat[offset:offset + t.numel()].view(t.shape).requires_grad_())
        offset += t.numel()
    return flat, views


def flat_gradient(views: list[torch.Tensor]) -> torch.Tensor:
    """The views' ``.grad`` as one [N] tensor (a missing gradient counts as zero)."""
    return torch.cat([v.grad.reshape(-1) if v.grad is not None else torch.zeros(v.numel(), dtype=v.dtype)
                      for v in views])


class Adam:
    """Kingma & Ba (2015) on ``flat`` [N]. ``lr`` may be changed between steps;
    ``state_dict`` holds only tensors and plain values (``weights_only`` loads it)."""

    def __init__(self, flat: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.flat = flat
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.steps = 0
        self.exp_avg = torch.zeros_like(flat)
        self.exp_avg_sq = torch.zeros_like(flat)

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        """One update of ``flat`` from its gradient ``grad`` [N]: torch's fused Adam kernel
        (what ``torch.optim.Adam(fused=True)`` calls), one pass instead of seven ops (2.6
        against 14 us for MAML's 1,761 parameters, ~3% of its meta-step)."""
        beta1, beta2 = self.betas
        self.steps += 1
        count = torch.full((), float(self.steps), dtype=self.flat.dtype, device=self.flat.device)
        torch._fused_adam_([self.flat], [grad], [self.exp_avg], [self.exp_avg_sq], [], [count], amsgrad=False,
                           lr=self.lr, beta1=beta1, beta2=beta2, weight_decay=0.0, eps=self.eps, maximize=False)

    def follow(self, flat: torch.Tensor) -> None:
        """Update ``flat`` from now on: a copy of the old buffer on another device (the
        moments move with it)."""
        self.flat = flat
        self.exp_avg, self.exp_avg_sq = self.exp_avg.to(flat.device), self.exp_avg_sq.to(flat.device)

    def snapshot(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The moments and step count, to :meth:`restore` after a step that is undone."""
        return self.exp_avg.clone(), self.exp_avg_sq.clone(), self.steps

    def restore(self, snapshot: tuple[torch.Tensor, torch.Tensor, int]) -> None:
        exp_avg, exp_avg_sq, self.steps = snapshot
        self.exp_avg.copy_(exp_avg)
        self.exp_avg_sq.copy_(exp_avg_sq)

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "lr": self.lr,
            "betas": list(self.betas),
            "eps": self.eps,
            "exp_avg": self.exp_avg.to("cpu", copy=True),  # checkpoints hold CPU tensors
            "exp_avg_sq": self.exp_avg_sq.to("cpu", copy=True),  # checkpoints hold CPU tensors
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`. The state may come from an untrusted file: every
        field is checked (type, dtype, shape, range) before anything is kept, and a
        mismatch raises ``ValueError`` naming the field and changes nothing."""
        if not isinstance(state, dict):
            raise ValueError(f"optimizer state must be a mapping, found a {type(state).__name__}")
        missing = [key for key in ("steps", "lr", "betas", "eps", "exp_avg", "exp_avg_sq") if key not in state]
        if missing:
            raise ValueError(f"optimizer state lacks {', '.join(missing)}")
        steps = stored_int("optimizer.steps", state["steps"], 0, MAX_STEPS)
        lr = stored_float("optimizer.lr", state["lr"], 0.0, MAX_RATE, include_minimum=False)
        eps = stored_float("optimizer.eps", state["eps"], 0.0, 1.0, include_minimum=False)
        betas = state["betas"]
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise ValueError("optimizer.betas must be a list of two numbers")
        betas = tuple(stored_float(f"optimizer.betas[{i}]", b, 0.0, 1.0) for i, b in enumerate(betas))
        if max(betas) >= 1.0:
            raise ValueError(f"optimizer.betas must be below 1, found {list(betas)}")
        moments = [stored_tensor(f"optimizer.{key}", state[key], self.flat.dtype, self.flat.shape)
                   for key in ("exp_avg", "exp_avg_sq")]
        if bool((moments[1] < 0).any()):  # its square root divides every update
            raise ValueError("optimizer.exp_avg_sq holds negative values")
        self.steps, self.lr, self.eps, self.betas = steps, lr, eps, betas
        self.exp_avg, self.exp_avg_sq = (m.to(self.flat.device, copy=True) for m in moments)
