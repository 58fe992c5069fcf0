"""The 1-40-40-1 ReLU MLP as a *batched functional* forward pass.

Parameters are a list ``[W0, b0, W1, b1, ...]``. Unbatched (the meta-parameters):
``W`` [in, out], ``b`` [1, out]. Batched over T tasks (fast weights): ``W`` [T, in, out],
``b`` [T, 1, out]. Inputs are [T, N, in]. Writing each layer as one ``baddbmm`` over
the task dimension is what makes a MAML meta-step with no Python loop over tasks
~15x faster than per-task ``functional_call`` loops (bench/, README).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Params = list[torch.Tensor]


def layer_sizes(hidden: Sequence[int]) -> tuple[int, ...]:
    """(1, *hidden, 1): scalar in, scalar out."""
    return (1, *hidden, 1)


def param_names(sizes: Sequence[int]) -> list[str]:
    """Stable names for checkpoints: ``layer0.weight``, ``layer0.bias``, ..."""
    return [f"layer{i}.{kind}" for i in range(len(sizes) - 1) for kind in ("weight", "bias")]


def init_params(sizes: Sequence[int], generator: torch.Generator) -> Params:
    """PyTorch's ``nn.Linear`` default init, U(-1/sqrt(in), 1/sqrt(in)), from ``generator``.

    Returns leaf tensors with ``requires_grad=True``; shapes [in, out] and [1, out].
    """
    params: Params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((fan_in, fan_out), (1, fan_out)):
            tensor = (torch.rand(shape, generator=generator) * 2 - 1) * bound
            params.append(tensor.requires_grad_())
    return params


def expand_for_tasks(params: Params, num_tasks: int) -> Params:
    """Per-task views [T, ...] of unbatched params; gradients flow back summed over T."""
    return [p.unsqueeze(0).expand(num_tasks, *p.shape) for p in params]


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # A 1-wide input is a broadcast product: cheaper than a bmm with inner size 1.
    if h.shape[-1] == 1:
        return torch.addcmul(bias, h, weight)
    return torch.baddbmm(bias, h, weight)


def features(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Hidden activations after every layer in ``params``, each followed by ReLU.

    params: batched layers (pairs W [T, in, out], b [T, 1, out]); x: [T, N, 1].
    Returns [T, N, width of the last layer].
    """
    h = x
    for weight, bias in zip(params[0::2], params[1::2]):
        h = torch.relu(_linear(h, weight, bias))
    return h


def features_with_constant(trunk: Params, x: torch.Tensor) -> torch.Tensor:
    """Unbatched trunk layers' features of x [T, N, 1] plus a constant 1: [T, N, width + 1]
    (the design matrix of a linear head with a bias, shared by every task)."""
    h = features(expand_for_tasks(trunk, x.shape[0]), x)
    return torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)


def forward(params: Params, x: torch.Tensor) -> torch.Tensor:
    """The MLP on batched params: x [T, N, 1] -> y [T, N, 1] (no ReLU on the output layer)."""
    return _linear(features(params[:-2], x), params[-2], params[-1])


def per_task_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each task: [T, N, 1] x [T, N, 1] -> [T]."""
    return (prediction - target).pow(2).mean(dim=(1, 2))


def per_task_gaussian_nll(mean: torch.Tensor, std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-density of ``target`` under N(mean, std^2), per task: each [T, N, 1] -> [T]."""
    z = (target - mean) / std
    return (0.5 * math.log(2 * math.pi) + std.log() + 0.5 * z.pow(2)).mean(dim=(1, 2))


def trajectory_mse(predictions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of each task after each step: predictions [S, T, N, 1], target [T, N, 1] -> [T, S]."""
    return (predictions - target).pow(2).mean(dim=(2, 3)).T
