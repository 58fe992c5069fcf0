"""The batched MAML meta-gradient against the independent per-task reference loop."""

import pytest
import torch

from metaviz.learners import default_config, make_learner
from metaviz.nets import forward
from metaviz.reference import build_module, maml_loss_loop, module_params_from_flat
from metaviz.streams import make_generator


def _meta_gradients(kind, inner_steps, seed=3):
    """(batched, reference) meta-gradients for the same params and batch, float64."""
    torch.set_default_dtype(torch.float64)
    try:
        config = default_config(kind, inner_steps=inner_steps, meta_batch=6, inner_lr=0.05, seed=seed)
        learner = make_learner(config)
        batch = learner.sample_batch(make_generator(seed))
        loss, _ = learner.training_loss(batch)
        batched = torch.autograd.grad(loss, learner.params)

        module = build_module(config.hidden).double()
        flat = [p.detach().clone().requires_grad_() for p in learner.params]
        ref_loss = maml_loss_loop(module, module_params_from_flat(module, flat), batch.x_support,
                                  batch.y_support, batch.x_query, batch.y_query, config.inner_lr,
                                  inner_steps, first_order=kind == "fomaml")
        reference = torch.autograd.grad(ref_loss, flat)
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-10)
        return batched, reference
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("kind", ["maml", "fomaml"])
@pytest.mark.parametrize("inner_steps", [1, 3])
def test_batched_meta_gradient_equals_per_task_loop(kind, inner_steps):
    batched, reference = _meta_gradients(kind, inner_steps)
    for ours, theirs in zip(batched, reference):
        assert torch.allclose(ours, theirs, rtol=1e-7, atol=1e-9)


def test_float32_batched_gradient_matches_loop_to_1e5():
    config = default_config("maml", inner_steps=3, meta_batch=25)
    learner = make_learner(config)
    batch = learner.sample_batch(make_generator(0))
    loss, _ = learner.training_loss(batch)
    batched = torch.autograd.grad(loss, learner.params)
    module = build_module(config.hidden)
    flat = [p.detach().clone().requires_grad_() for p in learner.params]
    ref = maml_loss_loop(module, module_params_from_flat(module, flat), batch.x_support, batch.y_support,
                         batch.x_query, batch.y_query, config.inner_lr, 3)
    for ours, theirs in zip(batched, torch.autograd.grad(ref, flat)):
        assert (ours - theirs).abs().max() <= 1e-5 * (1 + theirs.abs().max())


def test_second_minus_first_order_is_the_hessian_vector_term():
    """For one inner step, SO - FO = -alpha * mean_t H_support,t(theta) g_query,t(theta'_t)."""
    torch.set_default_dtype(torch.float64)
    try:
        config = default_config("maml", meta_batch=4, inner_lr=0.05, seed=2)
        learner = make_learner(config)
        batch = learner.sample_batch(make_generator(2))
        results = {}
        for first_order in (False, True):
            params = [p.detach().clone().requires_grad_() for p in learner.params]
            single = [p.unsqueeze(0) for p in params]
            loss = 0
            for t in range(batch.num_tasks):
                xs, ys = batch.x_support[t : t + 1], batch.y_support[t : t + 1]
                inner = ((forward(single, xs) - ys) ** 2).mean()
                grads = torch.autograd.grad(inner, single, create_graph=not first_order)
                fast = [w - config.inner_lr * g for w, g in zip(single, grads)]
                loss = loss + ((forward(fast, batch.x_query[t : t + 1]) - batch.y_query[t : t + 1]) ** 2).mean()
            results[first_order] = torch.autograd.grad(loss / batch.num_tasks, params)
        expected = [torch.zeros_like(p) for p in learner.params]
        for t in range(batch.num_tasks):
            xs, ys = batch.x_support[t : t + 1], batch.y_support[t : t + 1]
            xq, yq = batch.x_query[t : t + 1], batch.y_query[t : t + 1]
            theta = [p.detach().clone().requires_grad_() for p in learner.params]
            inner = ((forward([p.unsqueeze(0) for p in theta], xs) - ys) ** 2).mean()
            g_support = torch.autograd.grad(inner, theta, create_graph=True)
            adapted = [(p - config.inner_lr * g).detach().requires_grad_() for p, g in zip(theta, g_support)]
            outer = ((forward([p.unsqueeze(0) for p in adapted], xq) - yq) ** 2).mean()
            g_query = torch.autograd.grad(outer, adapted)
            hvp = torch.autograd.grad(g_support, theta, grad_outputs=g_query)
            for e, h in zip(expected, hvp):
                e -= config.inner_lr * h / batch.num_tasks
        difference = [so - fo for so, fo in zip(results[False], results[True])]
        assert max(d.abs().max().item() for d in difference) > 1e-6  # the term is not negligible
        for d, e in zip(difference, expected):
            assert torch.allclose(d, e, rtol=1e-8, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


def test_one_inner_step_is_a_hand_written_sgd_step():
    config = default_config("maml", meta_batch=4, inner_lr=0.1)
    learner = make_learner(config)
    batch = learner.sample_batch(make_generator(5))
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 1)
    for t in range(batch.num_tasks):
        params = [p.detach().clone().requires_grad_() for p in learner.params]
        single = [p.unsqueeze(0) for p in params]
        loss = ((forward(single, batch.x_support[t : t + 1]) - batch.y_support[t : t + 1]) ** 2).mean()
        loss.backward()
        stepped = [(p - 0.1 * p.grad).unsqueeze(0) for p in params]
        expected = forward(stepped, batch.x_query[t : t + 1])[0]
        assert torch.allclose(predictions[1, t], expected, atol=1e-6)
