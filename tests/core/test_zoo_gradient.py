"""The gradient-based zoo (Reptile, ANIL, Meta-SGD, CAVIA) against independent per-task
references: a Python loop over tasks, ``torch.func.functional_call`` on an ``nn.Module``
and plain autograd. None of the references calls metaviz's learner code. Meta-gradients
are compared in float64 to 1e-9; test-time adaptation, whose public entry point takes
float32 points only, in float32 to 1e-5.

The contract every learner shares (adaptation leaves the parameters bit-identical, the
[steps + 1, T, Q, 1] shape, checkpoint round trips) is tested for every registered
learner in test_learners.py and test_checkpoint.py; the first test here makes sure the
four are among them.
"""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from metaviz.learners import default_config, learner_names, make_learner
from metaviz.reference import build_module, module_params_from_flat
from metaviz.streams import make_generator

ZOO = ("reptile", "anil", "metasgd", "cavia")


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _setup(kind, seed=3, **changes):
    """A learner of ``kind`` (meta-batch 5, default dtype) and one of its training batches."""
    config = default_config(kind, meta_batch=5, seed=seed, **changes)
    learner = make_learner(config)
    return learner, learner.sample_batch(make_generator(seed))


def _mse(module, params, x, y):
    return torch.mean((functional_call(module, params, (x,)) - y) ** 2)


def _close32(a, b):
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def _assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-11), (a - b).abs().max()


def test_the_four_are_registered_so_the_shared_contract_tests_cover_them():
    assert set(ZOO) <= set(learner_names())


# --- Reptile --------------------------------------------------------------------------

def _reptile_phi(module, theta, x, y, lr, steps):
    """Plain SGD, ``steps`` full-batch steps on one task's points, from ``theta``."""
    fast = {name: w.detach().clone().requires_grad_() for name, w in theta.items()}
    for _ in range(steps):
        grads = torch.autograd.grad(_mse(module, fast, x, y), list(fast.values()))
        fast = {name: (w - lr * g).detach().requires_grad_() for (name, w), g in zip(fast.items(), grads)}
    return fast


@pytest.mark.parametrize("steps", [1, 4])
def test_reptile_gradient_is_theta_minus_mean_phi_and_sgd_makes_the_paper_move(float64, steps):
    learner, batch = _setup("reptile", inner_steps=steps, inner_lr=0.05)
    loss, metrics = learner.training_loss(batch)
    gradient = torch.autograd.grad(loss, learner.params)

    module = build_module(learner.config.hidden).double()
    theta = module_params_from_flat(module, [p.detach() for p in learner.params])
    x = torch.cat([batch.x_support, batch.x_query], dim=1)
    y = torch.cat([batch.y_support, batch.y_query], dim=1)
    phis = [_reptile_phi(module, theta, x[t], y[t], 0.05, steps) for t in range(batch.num_tasks)]
    mean_phi = {name: torch.stack([phi[name] for phi in phis]).mean(0) for name in theta}
    # Back from the module's [out, in] layout to metaviz's [in, out] / [1, out].
    expected = [theta[name] - mean_phi[name] for name in theta]
    expected = [e.t() if e.dim() == 2 else e.view(1, -1) for e in expected]
    _assert_close(gradient, expected)
    assert max(g.abs().max().item() for g in gradient) > 1e-4  # the tasks moved

    # A plain SGD step of size epsilon on that gradient is theta + epsilon * mean_t (phi_t - theta).
    epsilon = 0.3
    moved = [p.detach() - epsilon * g for p, g in zip(learner.params, gradient)]
    paper = [theta[name] + epsilon * (mean_phi[name] - theta[name]) for name in theta]
    _assert_close(moved, [e.t() if e.dim() == 2 else e.view(1, -1) for e in paper])

    # The reported loss: each task's MSE on its points after its steps, mean over tasks.
    after = torch.stack([_mse(module, phi, x[t], y[t]) for t, phi in enumerate(phis)]).mean()
    assert metrics["loss"] == pytest.approx(after.item(), rel=1e-10)


# --- ANIL -----------------------------------------------------------------------------

def _anil_loss_loop(module, params, batch, lr, steps, adapt=("4.weight", "4.bias")):
    """Mean query loss after ``steps`` SGD steps on the tensors named in ``adapt`` only
    (ANIL: the output layer; all six names: MAML), one task at a time, second order."""
    losses = []
    for t in range(batch.num_tasks):
        fast = dict(params)
        for _ in range(steps):
            inner = _mse(module, fast, batch.x_support[t], batch.y_support[t])
            grads = torch.autograd.grad(inner, [fast[name] for name in adapt], create_graph=True)
            fast.update({name: fast[name] - lr * g for name, g in zip(adapt, grads)})
        losses.append(_mse(module, fast, batch.x_query[t], batch.y_query[t]))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("steps", [1, 3])
def test_anil_meta_gradient_equals_a_per_task_loop_adapting_the_head_only(float64, steps):
    learner, batch = _setup("anil", inner_steps=steps, inner_lr=0.05)
    loss, _ = learner.training_loss(batch)
    batched = torch.autograd.grad(loss, learner.params)

    module = build_module(learner.config.hidden).double()
    flat = [p.detach().clone().requires_grad_() for p in learner.params]
    reference = _anil_loss_loop(module, module_params_from_flat(module, flat), batch, 0.05, steps)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    _assert_close(batched, torch.autograd.grad(reference, flat))

    # The trunk is meta-learned (its gradient is not zero) only through the query loss
    # after the head's steps: the trunk itself is not adapted, so its gradient is not
    # MAML's, which adapts every layer.
    trunk = batched[:-2]
    assert min(g.abs().max().item() for g in trunk) > 1e-6
    every_layer = [name for name, _ in module.named_parameters()]
    maml = _anil_loss_loop(module, module_params_from_flat(module, flat), batch, 0.05, steps, adapt=every_layer)
    maml_trunk = torch.autograd.grad(maml, flat)[:-2]
    assert max((a - b).abs().max().item() for a, b in zip(trunk, maml_trunk)) > 1e-6


def test_anil_adaptation_moves_the_head_only():
    learner, _ = _setup("anil")
    batch = learner.family.sample_batch(4, 5, 20, make_generator(8))
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 3, lr=0.1)
    module = build_module(learner.config.hidden)
    for t in range(batch.num_tasks):
        fast = {name: w.detach().clone() for name, w in
                module_params_from_flat(module, [p.detach() for p in learner.params]).items()}
        trunk_before = {name: fast[name].clone() for name in ("0.weight", "0.bias", "2.weight", "2.bias")}
        for step in range(1, 4):
            head = {name: fast[name].requires_grad_() for name in ("4.weight", "4.bias")}
            inner = _mse(module, fast, batch.x_support[t], batch.y_support[t])
            grads = torch.autograd.grad(inner, list(head.values()))
            fast.update({name: (w - 0.1 * g).detach() for (name, w), g in zip(head.items(), grads)})
            expected = functional_call(module, fast, (batch.x_query[t],))
            assert _close32(predictions[step, t], expected)
        assert all(torch.equal(fast[name], value) for name, value in trunk_before.items())


# --- Meta-SGD -------------------------------------------------------------------------

def _randomise_rates(learner, seed=4):
    generator = make_generator(seed)
    with torch.no_grad():
        for rate in learner.rates:
            rate.copy_(torch.empty(rate.shape).uniform_(0.005, 0.1, generator=generator))


@pytest.mark.parametrize("steps", [1, 2])
def test_metasgd_meta_gradient_w_r_t_weights_and_rates_equals_a_per_task_loop(float64, steps):
    learner, batch = _setup("metasgd", inner_steps=steps)
    _randomise_rates(learner)  # one rate per weight, all different: a rate mixed up would show
    loss, _ = learner.training_loss(batch)
    batched = torch.autograd.grad(loss, learner.params + learner.rates)

    module = build_module(learner.config.hidden).double()
    weights = [p.detach().clone().requires_grad_() for p in learner.params]
    rates = [r.detach().clone().requires_grad_() for r in learner.rates]
    params = module_params_from_flat(module, weights)
    rate_of = module_params_from_flat(module, rates)  # the same layout change as the weights'
    losses = []
    for t in range(batch.num_tasks):
        fast = dict(params)
        for _ in range(steps):
            grads = torch.autograd.grad(_mse(module, fast, batch.x_support[t], batch.y_support[t]),
                                        list(fast.values()), create_graph=True)
            fast = {name: w - rate_of[name] * g for (name, w), g in zip(fast.items(), grads)}
        losses.append(_mse(module, fast, batch.x_query[t], batch.y_query[t]))
    reference = torch.stack(losses).mean()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    expected = torch.autograd.grad(reference, weights + rates)
    _assert_close(batched, expected)
    assert min(g.abs().max().item() for g in batched[len(weights):]) > 1e-8  # every rate is trained


def test_metasgd_with_every_rate_at_inner_lr_is_maml(float64):
    metasgd, batch = _setup("metasgd", inner_steps=2, inner_lr=0.03)
    maml = make_learner(default_config("maml", meta_batch=5, seed=3, inner_steps=2, inner_lr=0.03))
    for ours, theirs in zip(metasgd.params, maml.params, strict=True):
        assert torch.equal(ours, theirs)  # the same initialisation for a seed
    assert all(torch.equal(r, torch.full_like(r, 0.03)) for r in metasgd.rates)
    ours, _ = metasgd.training_loss(batch)
    theirs, _ = maml.training_loss(batch)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-14)


def test_metasgd_test_time_lr_multiplies_the_learned_rates():
    learner, batch = _setup("metasgd", inner_lr=0.03)
    maml = make_learner(default_config("maml", meta_batch=5, seed=3, inner_lr=0.03))
    # At their starting value (inner_lr) the rates adapt as MAML does, with the default multiplier 1.
    assert learner.default_adapt_lr(5) == 1.0
    assert _close32(learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 3),
                    maml.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 3))
    _randomise_rates(learner)
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 1, lr=2.0)
    module = build_module(learner.config.hidden)
    for t in range(batch.num_tasks):
        params = {name: w.detach().clone().requires_grad_() for name, w in
                  module_params_from_flat(module, [p.detach() for p in learner.params]).items()}
        rates = module_params_from_flat(module, [r.detach() for r in learner.rates])
        grads = torch.autograd.grad(_mse(module, params, batch.x_support[t], batch.y_support[t]),
                                    list(params.values()))
        stepped = {name: w - 2.0 * rates[name] * g for (name, w), g in zip(params.items(), grads)}
        expected = functional_call(module, stepped, (batch.x_query[t],))
        assert _close32(predictions[1, t], expected)


# --- CAVIA ----------------------------------------------------------------------------

class _ContextNet(nn.Module):
    """CAVIA's network as the paper's code writes it: [x, context] concatenated at the input."""

    def __init__(self, context_size, hidden):
        super().__init__()
        self.body = build_module(hidden)
        self.body[0] = nn.Linear(1 + context_size, hidden[0])

    def forward(self, x, context):
        return self.body(torch.cat([x, context.expand(x.shape[0], -1)], dim=1))


def _cavia_reference(learner):
    net = _ContextNet(learner.context_size, learner.config.hidden).to(learner.params[0].dtype)
    flat = [p.detach().clone().requires_grad_() for p in learner.params]
    params = {f"body.{name}": value for name, value in module_params_from_flat(net.body, flat).items()}
    return net, flat, params


def _context_mse(net, params, x, y, context):
    return torch.mean((functional_call(net, params, (x, context)) - y) ** 2)


@pytest.mark.parametrize("steps, lr", [(1, 1.0), (2, 0.5)])
def test_cavia_meta_gradient_equals_a_per_task_loop_over_concatenated_contexts(float64, steps, lr):
    learner, batch = _setup("cavia", inner_steps=steps, inner_lr=lr)
    loss, _ = learner.training_loss(batch)
    batched = torch.autograd.grad(loss, learner.params)

    net, flat, params = _cavia_reference(learner)
    losses = []
    for t in range(batch.num_tasks):
        context = torch.zeros(learner.context_size, requires_grad=True)
        for _ in range(steps):
            inner = _context_mse(net, params, batch.x_support[t], batch.y_support[t], context)
            context = context - lr * torch.autograd.grad(inner, context, create_graph=True)[0]
        losses.append(_context_mse(net, params, batch.x_query[t], batch.y_query[t], context))
    reference = torch.stack(losses).mean()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    _assert_close(batched, torch.autograd.grad(reference, flat))
    assert learner.params[0].shape == (1 + learner.context_size, learner.config.hidden[0])


def test_cavia_context_after_one_step_is_minus_lr_times_the_gradient_at_zero():
    learner, _ = _setup("cavia")
    batch = learner.family.sample_batch(4, 5, 20, make_generator(6))
    lr = learner.default_adapt_lr(5)
    assert lr == 1.0  # the paper's inner rate
    contexts = learner.adapted_context(batch.x_support, batch.y_support, 1)
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 1)
    net, _, params = _cavia_reference(learner)
    for t in range(batch.num_tasks):
        zero = torch.zeros(learner.context_size, requires_grad=True)
        gradient = torch.autograd.grad(_context_mse(net, params, batch.x_support[t], batch.y_support[t], zero), zero)[0]
        assert gradient.abs().max() > 1e-6
        assert _close32(contexts[t], -lr * gradient)
        with torch.no_grad():
            unadapted = functional_call(net, params, (batch.x_query[t], zero))
            adapted = functional_call(net, params, (batch.x_query[t], -lr * gradient))
        assert _close32(predictions[0, t], unadapted) and _close32(predictions[1, t], adapted)


def test_cavia_contexts_start_at_zero_for_every_task_and_call():
    learner, batch = _setup("cavia")
    assert torch.equal(learner.adapted_context(batch.x_support, batch.y_support, 0),
                       torch.zeros(batch.num_tasks, learner.context_size))
    first = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 2)
    again = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 2)
    assert torch.equal(first, again)  # no context carried over from a previous call
    # A task's adaptation does not depend on the other tasks of the batch.
    alone = learner.adapt_trajectory(batch.x_support[2:3], batch.y_support[2:3], batch.x_query[2:3], 2)
    assert _close32(alone[:, 0], first[:, 2])


def test_cavia_context_size_is_checked():
    from metaviz.learners.cavia import CAVIA

    with pytest.raises(ValueError, match="context_size"):
        CAVIA(default_config("cavia"), context_size=0)
