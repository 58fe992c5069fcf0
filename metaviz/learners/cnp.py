"""A conditional neural process (Garnelo et al. 2018, "Conditional Neural Processes").

An encoder MLP maps each support pair (x, y) to a representation; their mean over the
support set (order-free, any K) is the task's representation r; a decoder MLP maps
(x, r) to the mean and standard deviation of y at x. The std is 0.1 + 0.9 softplus(.),
as in DeepMind's neural-process notebook: the floor keeps the likelihood bounded while
training. Trained by the Gaussian negative log-likelihood of the query points given the
support points, each task conditioning on a random number (0..shots) of its support
points, as the paper does (random context sizes), so one model serves every K. With no
point, r = 0: the model learns what to predict knowing nothing (the mean curve, wide),
which is what the window shows when a user clears every point.

Shapes: the encoder is (2, *hidden, R) and the decoder (1 + R, *hidden, 2) with
R = hidden[-1], ReLU between layers (:mod:`metaviz.nets`, batched over tasks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import expand_for_tasks, forward, init_params, param_names, per_task_gaussian_nll
from ..tasks import TaskBatch
from .base import Learner
from .context import sample_context_batch, support_mask
from .registry import LearnerSpec

STD_FLOOR = 0.1


def _shared_forward(params: list[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """The MLP on inputs [T, N, in] -> [T, N, out]. Every task shares the weights, so all
    T * N rows go through as one task: one matrix product per layer, not a batched one."""
    out = forward(expand_for_tasks(params, 1), inputs.reshape(1, -1, inputs.shape[-1]))
    return out.reshape(*inputs.shape[:2], -1)


class CNP(Learner):
    """Tensors ``encoder.layer*`` and ``decoder.layer*``."""

    has_predictive = True
    gradient_steps = False
    steps_note = "neural process: no gradient steps at test time"

    def init_tensors(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        hidden = self.config.hidden
        width = hidden[-1]
        tensors = {}
        for part, sizes in (("encoder", (2, *hidden, width)), ("decoder", (1 + width, *hidden, 2))):
            tensors.update({f"{part}.{name}": t
                            for name, t in zip(param_names(sizes), init_params(sizes, generator))})
        return tensors

    def _part(self, prefix: str) -> list[torch.Tensor]:
        return [t for name, t in self.tensors.items() if name.startswith(prefix)]

    def representation(self, x_support: torch.Tensor, y_support: torch.Tensor,
                       mask: torch.Tensor | None = None) -> torch.Tensor:
        """r [T, 1, R]: the mean of the encoded support pairs (x, y) [T, K, 1] each;
        ``mask`` [T, K, 1] drops points (0). No support point gives r = 0."""
        tasks, shots = x_support.shape[:2]
        if shots == 0:
            return x_support.new_zeros(tasks, 1, self.config.hidden[-1])
        encoded = _shared_forward(self._part("encoder."), torch.cat([x_support, y_support], -1))
        if mask is None:
            return encoded.mean(dim=1, keepdim=True)
        return (encoded * mask).sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp_min(1)

    def decode(self, r: torch.Tensor, x_query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std [T, Q, 1] each at x_query [T, Q, 1] for representations r [T, 1, R]."""
        inputs = torch.cat([x_query, r.expand(-1, x_query.shape[1], -1)], dim=-1)
        out = _shared_forward(self._part("decoder."), inputs)
        return out[..., :1], STD_FLOOR + (1 - STD_FLOOR) * F.softplus(out[..., 1:])

    def sample_batch(self, generator: torch.Generator) -> TaskBatch:
        """``meta_batch`` fresh tasks; each conditions on its first 0..shots support points."""
        c = self.config
        return sample_context_batch(self.family, c.meta_batch, c.shots, c.query, 0, generator)

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The mean over tasks and query points of -log N(y_query; mean, std^2).

        Reported as ``nll``; ``loss`` reports the query MSE of the mean, so the training
        curve reads on the same (log) MSE axis as every other learner's."""
        r = self.representation(batch.x_support, batch.y_support, support_mask(batch))
        mean, std = self.decode(r, batch.x_query)
        nll = per_task_gaussian_nll(mean, std, batch.y_query).mean()
        mse = (mean - batch.y_query).pow(2).mean()
        return nll, {"loss": mse.item(), "nll": nll.item()}

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        """The same prediction at every step: a neural process adapts by one forward
        pass that encodes the support set, with no gradient steps to take, so its
        steps curve is flat (``lr`` is ignored)."""
        mean, _ = self.predictive(x_support, y_support, x_query)
        return mean.unsqueeze(0).expand(steps + 1, -1, -1, -1)

    def predictive(self, x_support, y_support, x_query):
        """The decoder's mean and std [T, Q, 1] given the whole support set."""
        with torch.no_grad():
            return self.decode(self.representation(x_support, y_support), x_query)

    def default_adapt_lr(self, shots: int) -> float:
        return 1.0  # unused: no gradient steps


LEARNERS = (
    LearnerSpec("cnp", "neural process (CNP)", "#E69F00", CNP,
                defaults={"iterations": 4000, "meta_lr": 0.003, "hidden": (128, 128)},
                description="Conditional neural process (Garnelo et al. 2018): encodes the support points, "
                            "averages them and decodes a mean and a std; no gradient steps, so its steps "
                            "curve is flat.", step_ms=1.9),
)
