"""MAML the usual way: a Python loop over tasks, ``torch.func.functional_call`` on an
``nn.Sequential`` and ``autograd.grad(create_graph=True)`` per task (as learn2learn,
higher and torchopt do).

It shares no code with :mod:`metaviz.learners` on purpose: the tests use it as the
independent reference for the batched meta-gradient, and ``python main.py bench``
uses it as the speed baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call


def build_module(hidden: Sequence[int]) -> nn.Sequential:
    """The same MLP as an nn.Module: Linear(1, h0), ReLU, ..., Linear(h_last, 1)."""
    sizes = (1, *hidden, 1)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def module_params_from_flat(module: nn.Module, params: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map metaviz's [in, out] / [1, out] tensors onto the module's [out, in] / [out]
    names, keeping the autograd link to ``params``."""
    names = [name for name, _ in module.named_parameters()]
    mapped = {}
    for name, tensor in zip(names, params):
        mapped[name] = tensor.t() if name.endswith("weight") else tensor.reshape(-1)
    return mapped


def maml_loss_loop(
    module: nn.Module,
    params: dict[str, torch.Tensor],
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    inner_lr: float,
    inner_steps: int,
    first_order: bool = False,
) -> torch.Tensor:
    """Mean post-adaptation query loss over tasks, one task at a time.

    x_*, y_*: [T, N, 1]. Differentiable w.r.t. ``params`` (second-order unless
    ``first_order``, which detaches the inner gradients).
    """
    losses = []
    for t in range(x_support.shape[0]):
        fast = dict(params)
        for _ in range(inner_steps):
            inner = torch.mean((functional_call(module, fast, (x_support[t],)) - y_support[t]) ** 2)
            grads = torch.autograd.grad(inner, list(fast.values()), create_graph=not first_order)
            fast = {name: w - inner_lr * g for (name, w), g in zip(fast.items(), grads)}
        losses.append(torch.mean((functional_call(module, fast, (x_query[t],)) - y_query[t]) ** 2))
    return torch.stack(losses).mean()
