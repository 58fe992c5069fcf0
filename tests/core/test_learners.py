"""The learner contract: shapes, purity of adaptation, lower support loss, shared trunk."""

import pytest
import torch

from metaviz.learners import default_config, learner_names, make_learner
from metaviz.nets import per_task_mse
from metaviz.streams import make_generator
from tests.helpers import trained_learner


@pytest.mark.parametrize("kind", learner_names())
def test_adapt_trajectory_shape_and_leaves_parameters_bit_identical(kind):
    learner = trained_learner(kind)
    before = {name: t.detach().clone() for name, t in learner.tensors.items()}
    optimizer_state = learner.optimizer.state_dict()
    for tensor in learner.tensors.values():
        tensor.grad = None  # training left the last step's gradients: start from none
    batch = learner.family.sample_batch(7, 5, 13, make_generator(1))
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 4)
    assert predictions.shape == (5, 7, 13, 1)
    assert torch.isfinite(predictions).all()
    for name, tensor in learner.tensors.items():
        assert torch.equal(tensor, before[name]), name
        assert tensor.grad is None, f"adaptation left a gradient on {name}"
    after = learner.optimizer.state_dict()
    assert after["steps"] == optimizer_state["steps"]
    assert torch.equal(after["exp_avg"], optimizer_state["exp_avg"])


@pytest.mark.parametrize("kind", learner_names())
def test_adaptation_lowers_the_support_loss(kind):
    # A neural process first learns the mean curve, and only then to read its context.
    learner = trained_learner(kind, iterations=300 if kind == "cnp" else 100)
    batch = learner.family.sample_batch(50, 10, 1, make_generator(2))
    # Meta-SGD's rates are learned for one step (some turn negative): repeated, they need not
    # descend, so it is held to the one step it was trained for.
    steps = 1 if kind == "metasgd" else 5
    trajectory = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_support, steps)
    losses = [per_task_mse(p, batch.y_support).mean().item() for p in trajectory]
    # Before adaptation: the prediction knowing no support point (step 0 for learners that take
    # steps; a neural process conditions in one forward pass, so its trajectory is flat).
    empty = torch.zeros(batch.num_tasks, 0, 1)
    unadapted = learner.adapt_trajectory(empty, empty, batch.x_support, 0)[0]
    assert losses[steps] < per_task_mse(unadapted, batch.y_support).mean().item()
    assert losses[0] == pytest.approx(per_task_mse(unadapted, batch.y_support).mean().item(), rel=1e-5) \
        or kind == "cnp"


@pytest.mark.parametrize("kind", learner_names())
def test_meta_training_lowers_the_training_loss(kind):
    learner = make_learner(default_config(kind, meta_batch=25, pool_size=25))
    generator = make_generator(0)
    losses = [learner.meta_train_step(learner.sample_batch(generator))["loss"] for _ in range(300)]
    assert sum(losses[-50:]) < 0.9 * sum(losses[:50])


def test_same_seed_trains_to_identical_parameters():
    a, b = trained_learner("maml", 20), trained_learner("maml", 20)
    for name in a.tensors:
        assert torch.equal(a.tensors[name], b.tensors[name])


def test_rates_changed_between_steps_are_used_by_the_next_step():
    learner = make_learner(default_config("maml", meta_batch=5))
    batch = learner.sample_batch(make_generator(0))
    twin = make_learner(default_config("maml", meta_batch=5, inner_lr=0.2, meta_lr=0.05))
    learner.set_rates(inner_lr=0.2, meta_lr=0.05)
    assert learner.meta_train_step(batch) == twin.meta_train_step(batch)
    for name in learner.tensors:
        assert torch.equal(learner.tensors[name], twin.tensors[name])


def test_multitask_trunk_is_one_shared_set_of_parameters():
    learner = make_learner(default_config("multitask", pool_size=30, meta_batch=30))
    names = set(learner.tensors)
    assert names == {"layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "heads"}
    assert learner.tensors["layer1.weight"].shape == (40, 40)  # no task dimension
    assert learner.tensors["heads"].shape == (30, 41)
    batch = learner.sample_batch(make_generator(0))
    loss, _ = learner.training_loss(batch)
    loss.backward()
    heads_grad = learner.tensors["heads"].grad
    assert (heads_grad.abs().sum(dim=1) > 0).all()  # every task in the batch trains its own head
    # Gradients of every task accumulate into the one trunk: the trunk gradient of the whole
    # batch is the sum of the per-task ones.
    total = learner.tensors["layer1.weight"].grad.clone()
    per_task = torch.zeros_like(total)
    for t in range(batch.num_tasks):
        for tensor in learner.tensors.values():
            tensor.grad = None
        x = torch.cat([batch.x_support[t : t + 1], batch.x_query[t : t + 1]], dim=1)
        y = torch.cat([batch.y_support[t : t + 1], batch.y_query[t : t + 1]], dim=1)
        head = learner.tensors["heads"][batch.task_index[t]]
        part = ((learner.features(x) @ head.view(1, -1, 1) - y) ** 2).mean() / batch.num_tasks
        part.backward()
        per_task += learner.tensors["layer1.weight"].grad
    assert torch.allclose(total, per_task, atol=1e-6)


@pytest.mark.parametrize("kind", learner_names())
def test_no_support_points_leaves_the_prediction_where_it_starts(kind):
    learner = trained_learner(kind)
    x_query = torch.linspace(-5, 5, 9).view(1, -1, 1)
    empty = torch.zeros(1, 0, 1)
    trajectory = learner.adapt_trajectory(empty, empty, x_query, 3)
    assert trajectory.shape == (4, 1, 9, 1) and torch.isfinite(trajectory).all()
    assert torch.allclose(trajectory[3], trajectory[0])
