"""Adam on a list of tensors, computed exactly as ``torch.optim.Adam`` does with its
default options (no weight decay, no AMSGrad), in a handful of ``torch._foreach`` ops.

Why not ``torch.optim.Adam``: constructing any ``torch.optim`` optimiser imports
``torch._dynamo``, about 80 MB of resident memory and most of a second at start-up,
for nothing these small models use. A test checks this class against torch's Adam.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class Adam:
    """Kingma & Ba (2015). ``lr`` may be changed between steps; ``state_dict`` holds only
    tensors and plain values (checkpoints load it with ``weights_only=True``)."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update from the parameters' ``.grad`` (a missing gradient counts as zero)."""
        beta1, beta2 = self.betas
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        self.steps += 1
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        step_size = self.lr / (1 - beta1**self.steps)
        denominator = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denominator, math.sqrt(1 - beta2**self.steps))
        torch._foreach_add_(denominator, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denominator, -step_size)

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "lr": self.lr,
            "betas": list(self.betas),
            "eps": self.eps,
            "exp_avg": [t.clone() for t in self.exp_avg],
            "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`; a mismatch raises ``ValueError`` and changes nothing."""
        try:
            moments = [list(state["exp_avg"]), list(state["exp_avg_sq"])]
            steps, lr, eps = int(state["steps"]), float(state["lr"]), float(state["eps"])
            betas = (float(state["betas"][0]), float(state["betas"][1]))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"optimiser state is malformed ({exc})") from exc
        for tensors in moments:
            if len(tensors) != len(self.params) or any(
                not isinstance(t, torch.Tensor) or t.shape != p.shape for t, p in zip(tensors, self.params)
            ):
                raise ValueError("optimiser state does not match the parameters")
        self.steps, self.lr, self.eps, self.betas = steps, lr, eps, betas
        self.exp_avg = [t.clone() for t in moments[0]]
        self.exp_avg_sq = [t.clone() for t in moments[1]]
