"""MAML (Finn et al. 2017), second- and first-order, batched over the task dimension."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..nets import expand_for_tasks, forward
from ..tasks import TaskBatch
from .inner_loop import sgd_steps
from .maml_grad import MetaGradient, choose_engine
from .maml_graph import GraphedMetaGradient, worth_graphing
from .network import NetworkLearner
from .registry import LearnerSpec


class MAML(NetworkLearner):
    """Meta-learns an initialisation from which ``inner_steps`` SGD steps at ``inner_lr``
    fit a new task. ``first_order`` drops the second-order term (the inner gradient is
    treated as a constant)."""

    def __init__(self, config, first_order: bool = False) -> None:
        self.first_order = first_order
        super().__init__(config)
        #: How the meta-gradient is computed: "hand" (:mod:`.maml_grad`, exact and faster) or
        #: "autograd" (:meth:`training_loss` backward). Either may be set between steps.
        self.engine = choose_engine(config.hidden, config.meta_batch)
        #: A :class:`metaviz.compiled.CompiledStep` once ``train --compile`` asked for one.
        self.compiled = None
        #: On CUDA the hand-derived step is replayed as a CUDA graph (:mod:`.maml_graph`)
        #: where that wins (None, :func:`.maml_graph.worth_graphing`), always (True) or
        #: never (False: kernel by kernel; the bench compares both).
        self.cuda_graph: bool | None = None
        self._graphed: GraphedMetaGradient | None = None
        self._expanded: tuple[dict, int, list[torch.Tensor]] | None = None
        self._compiled_key: tuple | None = None
        self._rate: tuple[tuple, torch.Tensor] | None = None

    def meta_gradient(self, batch: TaskBatch) -> tuple[dict[str, float], Callable[[], torch.Tensor]]:
        """The same metrics and gradient as autograd through :meth:`training_loss`, by the
        hand-derived meta-gradient (compiled once a compiled one is ready)."""
        if self.engine == "autograd":
            return super().meta_gradient(batch)
        args = (batch.x_support, batch.y_support, batch.x_query, batch.y_query)
        compiled = self._compiled_for(batch) or self._graphed_step()
        with torch.no_grad():
            if compiled is not None:
                stats, grad = compiled(self._flat, *args, self._rate_tensor())
                loss, pre_loss = stats.tolist()  # one sync for both
                return {"loss": loss, "pre_loss": pre_loss}, lambda: grad
            step = MetaGradient(self._per_task(batch.num_tasks), *args, self.inner_lr, self.config.inner_steps,
                                self.first_order)
            metrics = {"loss": step.loss.item(), "pre_loss": step.pre_loss.item()}

        def gradient() -> torch.Tensor:  # the outer backward only once the loss is known sane
            with torch.no_grad():
                return torch.cat([g.reshape(-1) for g in step.gradient()])

        return metrics, gradient

    def step_spec(self, batch: TaskBatch | None = None):
        """What a compiled meta-gradient for this learner's steps (on ``batch``'s shapes;
        by default the training batches') is specialised to."""
        from ..compiled import StepSpec

        c = self.config
        tasks, shots, query = (c.meta_batch, c.shots, c.query) if batch is None else \
            (batch.num_tasks, batch.x_support.shape[1], batch.x_query.shape[1])
        return StepSpec(shapes=tuple(tuple(p.shape) for p in self.params), tasks=tasks, shots=shots, query=query,
                        steps=c.inner_steps, first_order=self.first_order,
                        dtype=str(self._flat.dtype).removeprefix("torch."), device=self._flat.device.type)

    def _compiled_for(self, batch: TaskBatch):
        """The compiled function when one is ready and was built for this batch's shapes
        and this learner's settings (it must never see other shapes), else None."""
        if self.compiled is None:
            return None
        function = self.compiled.function()
        if function is None:
            return None
        points = (batch.x_support, batch.y_support, batch.x_query, batch.y_query)
        # What the spec depends on, cheap to compare every step (a StepSpec is built only on a change).
        key = (points[0].shape, points[2].shape, self.first_order, self._flat.dtype, self._flat.device,
               self.compiled.spec)
        if key != self._compiled_key:
            if self.compiled.spec != self.step_spec(batch):
                return None
            self._compiled_key = key
        if not all(t.is_contiguous() for t in points):
            return None  # it was built for contiguous inputs
        if self.compiled.first_iteration is None:
            self.compiled.first_iteration = self.iteration + 1
        return function

    def _per_task(self, tasks: int) -> list[torch.Tensor]:
        """The meta-parameters as ``tasks`` stride-0 views [T, ...] of the flat buffer, made
        again only when the buffer or T changes (they see every in-place update; 12 view
        ops saved per step, ~2%)."""
        if self._expanded is None or self._expanded[0] is not self.tensors or self._expanded[1] != tasks:
            views = [p.detach().unsqueeze(0).expand(tasks, *p.shape) for p in self.params]
            self._expanded = (self.tensors, tasks, views)
        return self._expanded[2]

    def _graphed_step(self) -> GraphedMetaGradient | None:
        """The CUDA graph of the hand-derived step, on CUDA (made at its first use)."""
        if self.cuda_graph is False or not self._flat.is_cuda:
            return None
        if self._graphed is None:  # decided once (again each step only where it would not pay)
            c, shapes = self.config, tuple(tuple(p.shape) for p in self.params)
            if self.cuda_graph is None and not worth_graphing(shapes, c.meta_batch, c.shots + c.query):
                return None
            self._graphed = GraphedMetaGradient(shapes, self.config.inner_steps, self.first_order)
        return self._graphed

    def _rate_tensor(self) -> torch.Tensor:
        """The inner rate as a 0-d tensor on the parameters' device (made again only when it changes)."""
        if self._rate is None or self._rate[0] != (self.inner_lr, self._flat.device):
            rate = torch.tensor(self.inner_lr, dtype=self._flat.dtype, device=self._flat.device)
            self._rate = ((self.inner_lr, self._flat.device), rate)
        return self._rate[1]

    def training_loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean query loss after the inner loop, differentiable w.r.t. the meta-parameters."""
        start = expand_for_tasks(self.params, batch.num_tasks)
        steps = list(sgd_steps(start, batch.x_support, batch.y_support, self.inner_lr,
                               self.config.inner_steps, create_graph=not self.first_order))
        fast, pre_support_loss = steps[-1][0], steps[0][1]
        # The mean over tasks of each task's mean query loss (all tasks have Q points).
        loss = F.mse_loss(forward(fast, batch.x_query), batch.y_query)
        # pre_loss: the support loss before adaptation, the scale a blown-up inner step is judged by.
        return loss, {"loss": loss.item(), "pre_loss": pre_support_loss.item() / batch.num_tasks}

    def default_adapt_lr(self, shots: int) -> float:
        return self.inner_lr


_MAML_SETTINGS = frozenset({"inner_lr", "inner_steps", "adapt_lr"})
# A 500-step warm-up of the meta lr before the cosine (8,500 steps, peak 0.01): the paper's
# three figures on seeds 0-9 and 29 of seeds 0-29, against 25 of 30 without (README, bench/seeds.py).
_MAML_DEFAULTS = {"warmup": 500}
LEARNERS = (
    LearnerSpec("maml", "MAML", "#0072B2", MAML, uses=_MAML_SETTINGS, defaults=_MAML_DEFAULTS,
                description="Model-Agnostic Meta-Learning (Finn et al. 2017): an initialisation that "
                            "k SGD steps adapt to a new task; second-order meta-gradient.", step_ms=0.53),
    LearnerSpec("fomaml", "first-order MAML", "#56B4E9", MAML, uses=_MAML_SETTINGS, options={"first_order": True},
                defaults=_MAML_DEFAULTS,
                description="MAML with the inner gradient treated as constant: no second derivatives.", step_ms=0.33),
)
