"""MAML's hand-derived step replayed as a CUDA graph computes what the eager step
computes, at any rate and on any batch of the captured shapes (CUDA only; the device
machine's script runs these). On the CPU no graph is made."""

from __future__ import annotations

import pytest
import torch

from metaviz.learners import default_config, make_learner
from metaviz.learners.maml_grad import flat_meta_gradient
from metaviz.learners.maml_graph import GraphedMetaGradient, worth_graphing
from metaviz.streams import make_generator

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def _learner(device: str, **changes):
    settings = {"meta_batch": 6, "hidden": (16, 16), "seed": 4, **changes}
    return make_learner(default_config("maml", **settings)).to(device)


def _points(learner, seed: int):
    batch = learner.sample_batch(make_generator(seed))
    return batch.x_support, batch.y_support, batch.x_query, batch.y_query


@cuda
@pytest.mark.parametrize(("steps", "first_order"), [(1, False), (2, False), (2, True)])
def test_the_graph_replays_the_eager_gradient_at_any_rate_and_batch(steps, first_order):
    learner = _learner("cuda", inner_steps=steps)
    shapes = tuple(tuple(p.shape) for p in learner.params)
    graphed = GraphedMetaGradient(shapes, steps, first_order)
    for seed, rate in ((1, 0.01), (2, 0.01), (2, 0.037)):
        points = _points(learner, seed)
        stats, gradient = graphed(learner._flat, *points, torch.tensor(rate, device="cuda"))
        stats, gradient = stats.clone(), gradient.clone()  # the graph's buffers: the next call overwrites them
        with torch.no_grad():
            eager_stats, eager = flat_meta_gradient(learner._flat, shapes, *points, rate, steps, first_order)
        assert gradient.abs().max().item() > 1e-3
        assert torch.allclose(gradient, eager, rtol=1e-5, atol=1e-7)
        assert torch.allclose(stats, eager_stats, rtol=1e-6)
    assert graphed.captures == 1  # new rates and batches of the same shapes replay the one graph
    wider = _learner("cuda", inner_steps=steps, meta_batch=9)
    graphed(learner._flat, *_points(wider, 3), torch.tensor(0.01, device="cuda"))
    assert graphed.captures == 2


@cuda
def test_training_with_the_graph_follows_the_kernel_by_kernel_step():
    runs = {}
    for graph in (True, False):
        learner = _learner("cuda")
        learner.cuda_graph = graph
        generator = make_generator(7)
        for _ in range(6):
            learner.meta_train_step(learner.sample_batch(generator))
        runs[graph] = learner
    assert runs[True]._graphed.captures == 1 and runs[False]._graphed is None
    assert torch.allclose(runs[True]._flat, runs[False]._flat, rtol=1e-5, atol=1e-6)
    assert not torch.equal(runs[True]._flat, _learner("cuda")._flat)  # it trained


def test_on_the_cpu_no_graph_is_made_and_one_refuses_cpu_tensors():
    learner = _learner("cpu")
    generator = make_generator(7)
    for _ in range(2):
        learner.meta_train_step(learner.sample_batch(generator))
    assert learner._graphed is None
    graphed = GraphedMetaGradient(tuple(tuple(p.shape) for p in learner.params), 1, False)
    with pytest.raises(ValueError, match="needs every input on the CUDA device"):
        graphed(learner._flat, *_points(learner, 1), torch.tensor(0.01))


def test_the_graph_is_chosen_where_it_was_measured_to_win():
    def shapes(width):
        return ((1, width), (1, width), (width, width), (1, width), (width, 1), (1, 1))

    assert worth_graphing(shapes(40), 25, 20) and worth_graphing(shapes(40), 1000, 20)
    assert worth_graphing(shapes(512), 25, 20)
    assert not worth_graphing(shapes(512), 1000, 20)  # 6-16% slower there (README Speed)
