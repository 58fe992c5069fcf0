"""Batched inner-loop SGD on per-task copies of a network: MAML's inner loop and
the fine-tuning of the pretrained baseline are the same code, and so are the inner
loops of the zoo (ANIL's head, Meta-SGD's learned rates, CAVIA's context)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from ..nets import Params, forward

#: A step size: one number for every tensor, or one tensor per adapted tensor
#: (Meta-SGD's learned rates), each broadcastable to that tensor.
Rate = float | Sequence[torch.Tensor]


def descend(
    fast: Params, loss_of: Callable[[Params], torch.Tensor], lr: Rate, steps: int, create_graph: bool
) -> Iterator[tuple[Params, torch.Tensor]]:
    """Yield (tensors, loss) after each of ``steps`` gradient steps on ``loss_of``: the
    tensors after the step and the loss [] measured just before it.

    ``loss_of(fast)`` must be the *sum* over tasks of each task's own loss, with each
    task's tensors touched by that task alone: then the gradient for task t's copy is
    exactly that task's gradient, and one ``autograd.grad`` call serves all T tasks.
    ``create_graph=True`` keeps the graph through the gradient (second order);
    ``False`` treats the inner gradient as a constant (first order, fine-tuning).
    """
    for _ in range(steps):
        loss = loss_of(fast)
        grads = torch.autograd.grad(loss, fast, create_graph=create_graph)
        if isinstance(lr, (int, float)):
            fast = [torch.add(w, g, alpha=-lr) for w, g in zip(fast, grads)]  # w - lr g, one op
        else:
            fast = [w - rate * g for w, g, rate in zip(fast, grads, lr, strict=True)]
        yield fast, loss


def sgd_steps(
    fast: Params, x: torch.Tensor, y: torch.Tensor, lr: Rate, steps: int, create_graph: bool
) -> Iterator[tuple[Params, torch.Tensor]]:
    """Yield (weights, loss) after each of ``steps`` SGD steps on MSE(x, y): the per-task
    weights after the step and the summed loss [] measured just before it.

    fast: batched params (leading task dim T); x, y: [T, K, 1] (x may be wider: the
    features of a trunk, when ``fast`` is a linear head).
    The loss differentiated is the *sum* over tasks of each task's mean loss: tasks
    share no weights, so the gradient for task t's copy is exactly that task's own
    gradient, and one ``autograd.grad`` call serves all T tasks.
    ``create_graph=True`` keeps the graph through the gradient (second-order MAML);
    ``False`` treats the inner gradient as a constant (first-order MAML, fine-tuning).
    """
    points = x.shape[1]
    # = sum over tasks of each task's mean (every task has the same K points), as one
    # fused op: fewer nodes for the second-order backward to walk.
    return descend(fast, lambda w: F.mse_loss(forward(w, x), y, reduction="sum") / points, lr, steps, create_graph)


def adapted_query_loss(
    start: Params, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
    y_query: torch.Tensor, lr: Rate, steps: int, create_graph: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """MAML's outer loss for a batched network ``start``: the mean over tasks of each
    task's query MSE after ``steps`` SGD steps on its support points, differentiable
    through the inner loop (second order unless ``create_graph`` is False).

    Returns the loss [] and the metrics a meta-step reports: ``loss`` and ``pre_loss``,
    the mean support loss before adaptation (the scale a blown-up inner step is judged by).
    """
    trajectory = list(sgd_steps(start, x_support, y_support, lr, steps, create_graph))
    fast, pre_support_loss = trajectory[-1][0], trajectory[0][1]
    loss = F.mse_loss(forward(fast, x_query), y_query)  # all tasks have Q points: the mean of task means
    return loss, {"loss": loss.item(), "pre_loss": pre_support_loss.item() / x_support.shape[0]}


def descent_trajectory(
    start: Params, loss_of: Callable[[Params], torch.Tensor], predict: Callable[[Params], torch.Tensor],
    steps: int, lr: Rate,
) -> torch.Tensor:
    """``predict`` [T, Q, 1] after 0..steps first-order steps on ``loss_of`` from ``start``.

    ``start``: batched tensors; detached copies are adapted, so nothing the caller
    holds changes. Returns [steps + 1, T, Q, 1]; a rate that diverges yields inf/nan
    entries rather than an exception, so callers can count such tasks.
    """
    with torch.enable_grad():
        fast = [t.detach().requires_grad_() for t in start]
        with torch.no_grad():
            predictions = [predict(fast)]
        for adapted, _ in descend(fast, loss_of, lr, steps, create_graph=False):
            with torch.no_grad():
                predictions.append(predict(adapted))
    return torch.stack(predictions)


def sgd_trajectory(
    params: Params, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
    steps: int, lr: Rate,
) -> torch.Tensor:
    """Predictions on x_query [T, Q, 1] after 0..steps SGD steps from ``params``.

    ``params`` are unbatched and are never modified (each task adapts a detached
    copy). Returns [steps + 1, T, Q, 1]; a rate that diverges yields inf/nan
    entries rather than an exception, so callers can count such tasks.
    """
    num_tasks, shots = x_support.shape[:2]
    start = [p.detach().unsqueeze(0).expand(num_tasks, *p.shape) for p in params]
    if shots == 0:  # no support points (a user cleared them): nothing moves the fit
        with torch.no_grad():
            return forward(start, x_query).unsqueeze(0).repeat(steps + 1, 1, 1, 1)
    return descent_trajectory(start, lambda w: F.mse_loss(forward(w, x_support), y_support, reduction="sum") / shots,
                              lambda w: forward(w, x_query), steps, lr)
