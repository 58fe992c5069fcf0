"""The hand-derived MAML meta-gradient (metaviz.learners.maml_grad) against autograd and
against the per-task reference loop, in float64; and the learner's use of it."""

import pytest
import torch

from metaviz.learners import DivergedError, default_config, make_learner
from metaviz.learners.maml_grad import MetaGradient, _concatenate, flat_meta_gradient
from metaviz.nets import expand_for_tasks
from metaviz.reference import build_module, maml_loss_loop, module_params_from_flat
from metaviz.streams import make_generator

ARCHITECTURES = [(40, 40), (7,), (5, 9, 3), (6, 6, 6, 6)]


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _setup(hidden, inner_steps, first_order, meta_batch=5, shots=10, query=10, seed=4):
    kind = "fomaml" if first_order else "maml"
    config = default_config(kind, hidden=hidden, inner_steps=inner_steps, meta_batch=meta_batch, shots=shots,
                            query=query, inner_lr=0.05, seed=seed)
    learner = make_learner(config)
    return learner, learner.sample_batch(make_generator(seed))


def _hand(learner, batch):
    step = MetaGradient(expand_for_tasks(learner.params, batch.num_tasks), batch.x_support, batch.y_support,
                        batch.x_query, batch.y_query, learner.inner_lr, learner.config.inner_steps,
                        learner.first_order)
    return step, step.gradient()


def _close(ours, theirs, tolerance=1e-10):
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= tolerance * (1 + b.abs().max().item())


@pytest.mark.parametrize("hidden", ARCHITECTURES)
@pytest.mark.parametrize("inner_steps", [1, 3, 5])
@pytest.mark.parametrize("first_order", [False, True])
def test_hand_derived_meta_gradient_equals_autograd(float64, hidden, inner_steps, first_order):
    learner, batch = _setup(hidden, inner_steps, first_order)
    loss, metrics = learner.training_loss(batch)  # autograd through the batched inner loop
    expected = torch.autograd.grad(loss, learner.params)
    with torch.no_grad():
        step, gradient = _hand(learner, batch)
    assert max(g.abs().max().item() for g in expected) > 1e-3  # a gradient worth comparing
    _close(gradient, expected)
    assert step.loss.item() == pytest.approx(metrics["loss"], rel=1e-12)
    assert step.pre_loss.item() == pytest.approx(metrics["pre_loss"], rel=1e-12)


@pytest.mark.parametrize("hidden, inner_steps, first_order, shots, query",
                         [((40, 40), 1, False, 10, 10), ((5, 9, 3), 3, False, 4, 7), ((7,), 5, True, 3, 12)])
def test_hand_derived_meta_gradient_equals_the_per_task_loop(float64, hidden, inner_steps, first_order, shots,
                                                              query):
    learner, batch = _setup(hidden, inner_steps, first_order, meta_batch=4, shots=shots, query=query)
    module = build_module(hidden).double()
    flat = [p.detach().clone().requires_grad_() for p in learner.params]
    loss = maml_loss_loop(module, module_params_from_flat(module, flat), batch.x_support, batch.y_support,
                          batch.x_query, batch.y_query, learner.inner_lr, inner_steps, first_order=first_order)
    with torch.no_grad():
        step, gradient = _hand(learner, batch)
    _close(gradient, torch.autograd.grad(loss, flat))
    assert step.loss.item() == pytest.approx(loss.item(), rel=1e-12)


@pytest.mark.parametrize("inner_steps", [1, 3])
def test_wide_layers_take_the_concatenated_product_and_agree(float64, inner_steps):
    """Wide layers and few points: the Hessian-vector product's weight term is one
    product of concatenations (maml_grad._concatenate); same gradient as autograd."""
    learner, batch = _setup((96, 96), inner_steps, False, meta_batch=3, shots=3, query=4)
    assert _concatenate(learner.params[2], batch.x_support.expand(-1, -1, 96))
    loss, _ = learner.training_loss(batch)
    expected = torch.autograd.grad(loss, learner.params)
    with torch.no_grad():
        _, gradient = _hand(learner, batch)
    _close(gradient, expected)


def test_the_second_order_term_is_there(float64):
    """Second and first order differ by far more than rounding: the Hessian term is computed."""
    learner, batch = _setup((40, 40), 3, False)
    with torch.no_grad():
        _, second = _hand(learner, batch)
        learner.first_order = True
        _, first = _hand(learner, batch)
    assert max((a - b).abs().max().item() for a, b in zip(second, first)) > 1e-4


def test_the_flat_function_with_a_tensor_rate_equals_the_number(float64):
    """The compiled function takes the rate as a 0-d tensor: same numbers as a float rate."""
    learner, batch = _setup((5, 9, 3), 3, False)
    shapes = tuple(tuple(p.shape) for p in learner.params)
    args = (learner._flat, shapes, batch.x_support, batch.y_support, batch.x_query, batch.y_query)
    stats, gradient = flat_meta_gradient(*args, torch.tensor(0.05), 3, False)
    with torch.no_grad():
        step, expected = _hand(learner, batch)
    _close([gradient], [torch.cat([g.reshape(-1) for g in expected])], 1e-13)
    assert stats.tolist() == pytest.approx([step.loss.item(), step.pre_loss.item()], rel=1e-13)


@pytest.mark.parametrize("kind", ["maml", "fomaml"])
def test_training_with_the_hand_derived_gradient_follows_autograd(float64, kind):
    """The learner's meta-steps (hook, Adam on the flat gradient, metrics) take the same path."""
    runs = {}
    for engine in ("hand", "autograd"):
        learner = make_learner(default_config(kind, hidden=(12, 12), inner_steps=2, meta_batch=6, seed=1))
        learner.engine = engine
        generator = make_generator(1)
        losses = [learner.meta_train_step(learner.sample_batch(generator)) for _ in range(25)]
        runs[engine] = learner._flat.clone(), losses
    assert runs["hand"][0].sub(runs["autograd"][0]).abs().max().item() < 1e-10
    for ours, theirs in zip(runs["hand"][1], runs["autograd"][1]):
        assert set(ours) == set(theirs) == {"loss", "pre_loss"}
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-10)
        assert ours["pre_loss"] == pytest.approx(theirs["pre_loss"], rel=1e-10)


def test_the_hand_derived_step_is_the_default_and_diverges_like_autograd():
    """A blown-up inner rate: both engines refuse the step with the same message and keep
    the same parameters (the divergence checks of base.meta_train_step see the same metrics)."""
    outcomes = {}
    for engine in ("hand", "autograd"):
        learner = make_learner(default_config("maml", inner_lr=50.0, meta_batch=5, seed=2))
        assert learner.engine == "hand"
        learner.engine = engine
        generator = make_generator(2)
        learner.inner_lr = 0.01
        learner.meta_train_step(learner.sample_batch(generator))
        before = learner._flat.clone()
        learner.inner_lr = 50.0
        with pytest.raises(DivergedError) as caught:
            learner.meta_train_step(learner.sample_batch(generator))
        assert torch.equal(learner._flat, before) and learner.iteration == 1
        outcomes[engine] = str(caught.value)
    assert outcomes["hand"] == outcomes["autograd"]


def test_float32_hand_derived_gradient_matches_autograd_to_rounding():
    learner, batch = _setup((40, 40), 5, False, meta_batch=25)
    loss, _ = learner.training_loss(batch)
    expected = torch.autograd.grad(loss, learner.params)
    with torch.no_grad():
        _, gradient = _hand(learner, batch)
    _close(gradient, expected, 1e-5)
