"""Batched inner-loop SGD on per-task copies of a network: MAML's inner loop and
the fine-tuning of the pretrained baseline are the same code."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from ..nets import Params, forward


def sgd_steps(
    fast: Params, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int, create_graph: bool
) -> Iterator[tuple[Params, torch.Tensor]]:
    """Yield (weights, loss) after each of ``steps`` SGD steps on MSE(x, y): the per-task
    weights after the step and the summed loss [] measured just before it.

    fast: batched params (leading task dim T); x, y: [T, K, 1].
    The loss differentiated is the *sum* over tasks of each task's mean loss: tasks
    share no weights, so the gradient for task t's copy is exactly that task's own
    gradient, and one ``autograd.grad`` call serves all T tasks.
    ``create_graph=True`` keeps the graph through the gradient (second-order MAML);
    ``False`` treats the inner gradient as a constant (first-order MAML, fine-tuning).
    """
    points = x.shape[1]
    for _ in range(steps):
        # = sum over tasks of each task's mean (every task has the same K points), as one
        # fused op: fewer nodes for the second-order backward to walk.
        loss = F.mse_loss(forward(fast, x), y, reduction="sum") / points
        grads = torch.autograd.grad(loss, fast, create_graph=create_graph)
        fast = [torch.add(w, g, alpha=-lr) for w, g in zip(fast, grads)]  # w - lr g, one op
        yield fast, loss


def sgd_trajectory(
    params: Params, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
    steps: int, lr: float,
) -> torch.Tensor:
    """Predictions on x_query [T, Q, 1] after 0..steps SGD steps from ``params``.

    ``params`` are unbatched and are never modified (each task adapts a detached
    copy). Returns [steps + 1, T, Q, 1]; a rate that diverges yields inf/nan
    entries rather than an exception, so callers can count such tasks.
    """
    num_tasks, shots = x_support.shape[:2]
    with torch.enable_grad():
        fast = [p.detach().unsqueeze(0).expand(num_tasks, *p.shape).requires_grad_() for p in params]
        with torch.no_grad():
            predictions = [forward(fast, x_query)]
        if shots == 0:  # no support points (a user cleared them): nothing moves the fit
            return predictions[0].unsqueeze(0).repeat(steps + 1, 1, 1, 1)
        for adapted, _ in sgd_steps(fast, x_support, y_support, lr, steps, create_graph=False):
            with torch.no_grad():
                predictions.append(forward(adapted, x_query))
    return torch.stack(predictions)
