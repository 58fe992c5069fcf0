"""A diverging rate is caught, the last finite parameters are kept, and training resumes."""

import pytest
import torch

from metaviz.config import default_config
from metaviz.learners.base import DivergedError, make_learner
from metaviz.tasks import make_generator
from metaviz.training import TrainControl, Trainer


def test_huge_inner_rate_raises_and_keeps_parameters_then_recovers():
    config = default_config("maml", iterations=50, meta_batch=5, eval_every=10, eval_tasks=5)
    trainer = Trainer(make_learner(config))
    control = TrainControl(inner_lr=config.inner_lr, meta_lr=config.meta_lr)
    snapshots = trainer.run(control)
    for _ in range(5):
        next(snapshots)
    before = {name: t.detach().clone() for name, t in trainer.learner.tensors.items()}
    control.set_rates(inner_lr=1e6, meta_lr=0.1)
    with pytest.raises(DivergedError) as caught:
        next(snapshots)
    assert caught.value.iteration == 6 and caught.value.inner_lr == 1e6
    assert "inner lr 1e+06" in str(caught.value) and "lower a rate" in str(caught.value)
    assert trainer.learner.iteration == 5
    for name, tensor in trainer.learner.tensors.items():
        assert torch.equal(tensor, before[name]), name
    control.set_rates(inner_lr=0.01, meta_lr=1e-3)
    for snapshot in trainer.run(control):
        assert torch.isfinite(torch.tensor(snapshot.loss))
    assert trainer.learner.iteration == 50


def test_a_non_finite_parameter_after_the_step_is_rolled_back(monkeypatch):
    learner = make_learner(default_config("pretrained", meta_batch=5))
    batch = learner.sample_batch(make_generator(0))
    before = {name: t.detach().clone() for name, t in learner.tensors.items()}

    def poisoned_step(*args, **kwargs):
        with torch.no_grad():
            learner.tensors["layer0.bias"].fill_(float("nan"))

    monkeypatch.setattr(learner.optimizer, "step", poisoned_step)
    with pytest.raises(DivergedError, match="a parameter became non-finite"):
        learner.meta_train_step(batch)
    for name, tensor in learner.tensors.items():
        assert torch.equal(tensor, before[name])
    assert learner.iteration == 0


def test_adaptation_that_diverges_returns_non_finite_predictions_without_raising():
    learner = make_learner(default_config("maml"))
    batch = learner.family.sample_batch(4, 5, 10, make_generator(0))
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 10, lr=1e3)
    assert not torch.isfinite(predictions[-1]).all()
