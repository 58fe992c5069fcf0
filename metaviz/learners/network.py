"""Learners whose whole network adapts at test time by SGD (MAML and the pretrained baseline)."""

from __future__ import annotations

import dataclasses

import torch

from ..nets import init_params, layer_sizes, param_names
from ..tasks import TaskBatch
from .base import Learner
from .inner_loop import sgd_trajectory


class NetworkLearner(Learner):
    """One 1-hidden-...-1 MLP; adaptation = SGD on all of its parameters, per task.

    Runs on CUDA too, as do its subclasses (MAML, ANIL, Meta-SGD, CAVIA, Reptile,
    pretrained) while they make every tensor of their own on their parameters' device:
    batches are drawn on the CPU (every random stream is a CPU generator) and moved to
    :attr:`device`; adaptation takes and returns CPU tensors (:mod:`.inputs` moves them).
    bench/cuda_checks.py ``probe`` tries every learner on a GPU."""

    devices = ("cpu", "cuda")

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        sizes = layer_sizes(self.config.hidden)
        return dict(zip(param_names(sizes), init_params(sizes, generator)))

    @property
    def params(self) -> list[torch.Tensor]:
        return list(self.tensors.values())

    def sample_batch(self, generator: torch.Generator) -> TaskBatch:
        """``meta_batch`` fresh tasks, each with ``shots`` support and ``query`` query points."""
        c = self.config
        return batch_on(self.family.sample_batch(c.meta_batch, c.shots, c.query, generator), self.device)

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        rate = self.default_adapt_lr(x_support.shape[1]) if lr is None else lr
        return sgd_trajectory(self.params, x_support, y_support, x_query, steps, rate)


def batch_on(batch: TaskBatch, device: torch.device) -> TaskBatch:
    """``batch`` with its tensors on ``device`` (itself when they are there already)."""
    if batch.x_support.device == device:
        return batch
    values = {f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)}
    return dataclasses.replace(batch, **{name: value.to(device) for name, value in values.items()
                                         if isinstance(value, torch.Tensor)})
