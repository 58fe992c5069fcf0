"""Meta-training batches whose tasks see a random number of support points.

Learners that condition on a support set in closed form or by a forward pass (the
Bayesian head, the neural process) are trained, as their papers do, on every context
size up to ``shots``, so one model serves every K at test time. Each task of a batch
draws its own count; the batch keeps ``shots`` support points and a count per task, and
the learners mask the points beyond it (no Python loop over tasks, no ragged tensors).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks import TaskBatch, TaskFamily


@dataclass(frozen=True)
class ContextBatch(TaskBatch):
    """A :class:`~metaviz.tasks.TaskBatch` whose task t uses only its first ``context[t]``
    support points (``context`` [T], int64, 0 <= context <= K)."""

    context: torch.Tensor | None = None


def sample_context_batch(family: TaskFamily, num_tasks: int, shots: int, query: int, minimum: int,
                         generator: torch.Generator) -> ContextBatch:
    """``num_tasks`` fresh tasks with ``shots`` support and ``query`` query points, and a
    context size per task uniform on {minimum, ..., shots}, drawn after the batch."""
    if not 0 <= minimum <= shots:
        raise ValueError(f"minimum context size must be between 0 and shots ({shots}), got {minimum}")
    batch = family.sample_batch(num_tasks, shots, query, generator)
    context = torch.randint(minimum, shots + 1, (num_tasks,), generator=generator)
    return ContextBatch(**vars(batch), context=context)


def support_mask(batch: TaskBatch) -> torch.Tensor | None:
    """[T, K, 1] float: 1 for the support points a task uses, 0 for the rest; None when
    every point is used (a plain :class:`~metaviz.tasks.TaskBatch`)."""
    context = getattr(batch, "context", None)
    if context is None:
        return None
    positions = torch.arange(batch.x_support.shape[1], device=context.device).view(1, -1, 1)
    return (positions < context.view(-1, 1, 1)).to(batch.x_support.dtype)
