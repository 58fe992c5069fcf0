"""Our Adam against torch.optim.Adam, step for step; its state round-trips and is checked."""

import subprocess
import sys

import pytest
import torch

from metaviz.optim import Adam, flat_gradient, flat_parameters


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for shape in ((3, 4), (1, 4), (4,))]


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.9, 0.99)])
def test_matches_torch_adam_over_many_steps_with_changing_rate(betas):
    flat, ours = flat_parameters(_problem())
    theirs = [t.clone().requires_grad_() for t in _problem()]
    mine = Adam(flat, lr=1e-2, betas=betas)
    reference = torch.optim.Adam(theirs, lr=1e-2, betas=betas, foreach=False)
    g = torch.Generator().manual_seed(1)
    for step in range(50):
        grads = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in ours]
        for p, q, grad in zip(ours, theirs, grads):
            p.grad, q.grad = grad.clone(), grad.clone()
        if step == 20:  # a rate changed between steps applies to the next one
            mine.lr = 3e-3
            reference.param_groups[0]["lr"] = 3e-3
        mine.step(flat_gradient(ours))
        reference.step()
    for p, q in zip(ours, theirs):  # the views see every update of the flat buffer
        assert torch.allclose(p, q, rtol=1e-12, atol=1e-14)


def test_flat_views_are_leaves_in_the_original_shapes_and_a_missing_grad_is_zero():
    tensors = _problem()
    flat, views = flat_parameters(tensors)
    assert flat.shape == (sum(t.numel() for t in tensors),)
    assert all(v.is_leaf and v.requires_grad and v.shape == t.shape for v, t in zip(views, tensors))
    assert all(torch.equal(v, t) for v, t in zip(views, tensors))
    views[0].grad = torch.ones_like(views[0])
    grad = flat_gradient(views)
    assert grad[: views[0].numel()].eq(1).all() and grad[views[0].numel():].eq(0).all()


def test_state_round_trips_and_mismatches_are_refused():
    flat, views = flat_parameters(_problem())
    mine = Adam(flat, lr=0.1)
    mine.step(torch.ones_like(flat))
    state = mine.state_dict()
    twin = Adam(flat_parameters(_problem())[0], lr=0.5)
    twin.load_state_dict(state)
    assert twin.steps == 1 and twin.lr == 0.1 and torch.equal(twin.exp_avg_sq, mine.exp_avg_sq)
    with pytest.raises(ValueError, match=r"optimizer.exp_avg has shape \(5,\), expected \(20,\)"):
        twin.load_state_dict(dict(state, exp_avg=state["exp_avg"][:5]))
    with pytest.raises(ValueError, match="optimizer state lacks lr, betas, eps, exp_avg, exp_avg_sq"):
        twin.load_state_dict({"steps": 1})


def test_the_core_does_not_pull_in_torch_dynamo():
    """The reason this class exists: torch.optim imports torch._dynamo (~80 MB)."""
    code = ("import sys\nfrom metaviz.learners import default_config, make_learner\n"
            "from metaviz.streams import make_generator\nl = make_learner(default_config('maml'))\n"
            "l.meta_train_step(l.sample_batch(make_generator(0)))\nprint('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
