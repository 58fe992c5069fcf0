"""MAML's hand-derived meta-gradient replayed as a CUDA graph.

On a GPU a meta-step at the paper's sizes is ~150 kernels of a few microseconds each:
their launches, not the arithmetic, take the time (H100, meta-batch 25: 537 meta-it/s
eagerly, a quarter of a 2-core CPU's rate; README Speed). A CUDA graph records the
launches of one step once and replays them as one. It is captured from the eager
code itself (:func:`.maml_grad.flat_meta_gradient`), so it computes what the eager
step computes; a test on CUDA checks it does, at several rates and batches.
"""

from __future__ import annotations

import math

import torch

from .maml_grad import flat_meta_gradient

WARMUP_CALLS = 3  # torch.cuda.graphs: run the code on a side stream before capturing it
#: Multiply-adds per meta-step (tasks x points x weights) above which a graph no longer
#: pays: on an H100 it ran 2.2-4.7x the kernel-by-kernel step up to meta-batch 25 x width
#: 512 (0.13 G) and meta-batch 1000 x width 40 (0.03 G), and 6-16% slower at 1000 x 512
#: (5.3 G), where the kernels are long and the graph's copies cost more than launches.
GRAPH_LIMIT = 1e9


def worth_graphing(shapes: tuple[tuple[int, ...], ...], tasks: int, points: int) -> bool:
    """Whether a meta-step over ``tasks`` tasks of ``points`` support + query points, for
    meta-parameters of ``shapes``, is small enough for a graph to win."""
    return tasks * points * sum(math.prod(shape) for shape in shapes) <= GRAPH_LIMIT


class GraphedMetaGradient:
    """``(flat [N], x_support [T, K, 1], y_support, x_query [T, Q, 1], y_query, rate [])
    -> (stats [2] = (loss, pre_loss), gradient [N])`` for the meta-parameters laid out in
    ``shapes``, as a CUDA graph (captured again when an input's shape or dtype changes).

    The outputs are the graph's own buffers, overwritten by the next call: read them
    first. The rate is an input, so a new inner rate needs no new capture."""

    def __init__(self, shapes: tuple[tuple[int, ...], ...], steps: int, first_order: bool) -> None:
        self.shapes, self.steps, self.first_order = shapes, steps, first_order
        self.captures = 0
        self._key: tuple | None = None
        self._inputs: list[torch.Tensor] = []
        self._outputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self._graph: torch.cuda.CUDAGraph | None = None

    def _run(self) -> tuple[torch.Tensor, torch.Tensor]:
        flat, x_support, y_support, x_query, y_query, rate = self._inputs
        with torch.no_grad():
            return flat_meta_gradient(flat, self.shapes, x_support, y_support, x_query, y_query, rate, self.steps,
                                      self.first_order)

    def _capture(self, tensors: tuple[torch.Tensor, ...]) -> None:
        if any(t.device.type != "cuda" for t in tensors):
            raise ValueError("a CUDA graph needs every input on the CUDA device")
        self._graph = None  # its memory pool goes before the next one is made
        self._inputs = [t.detach().clone() for t in tensors]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_CALLS):
                self._run()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._outputs = self._run()
        self._graph = graph
        self.captures += 1

    def __call__(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = tuple((t.shape, t.dtype, t.device) for t in tensors)
        if key != self._key:
            self._capture(tensors)
            self._key = key
        for static, value in zip(self._inputs, tensors):
            static.copy_(value)
        self._graph.replay()
        return self._outputs
