"""Blow-ups are caught, the last sane parameters are kept, and training resumes."""

import pytest
import torch

from metaviz.jobs import TrainControl
from metaviz.jobs.training import Trainer
from metaviz.learners import DivergedError, default_config, make_learner
from metaviz.streams import make_generator


def _trainer(kind="maml", **changes):
    config = default_config(kind, iterations=50, meta_batch=5, pool_size=10, eval_every=2, eval_tasks=5, **changes)
    return Trainer(make_learner(config)), TrainControl(inner_lr=config.inner_lr, meta_lr=config.meta_lr)


def _params(learner):
    return {name: t.detach().clone() for name, t in learner.tensors.items()}


def test_a_blown_up_inner_step_keeps_the_current_parameters_then_recovers():
    trainer, control = _trainer()
    snapshots = trainer.run(control)
    for _ in range(5):
        next(snapshots)
    before = _params(trainer.learner)
    control.set_rates(inner_lr=1.0)  # the paper's alpha x 100: the adapted fit explodes
    with pytest.raises(DivergedError) as caught:
        next(snapshots)
    assert caught.value.iteration == 6 and caught.value.kept_iteration == 5 and caught.value.inner_lr == 1.0
    assert "inner lr 1" in str(caught.value) and "lower a rate" in str(caught.value)
    assert trainer.learner.iteration == 5
    for name, tensor in trainer.learner.tensors.items():
        assert torch.equal(tensor, before[name]), name  # these parameters were fine: kept as they are
    control.set_rates(inner_lr=0.01)
    assert all(torch.isfinite(torch.tensor(s.loss)) for s in trainer.run(control))
    assert trainer.learner.iteration == 50


@pytest.mark.parametrize("kind", ["maml", "pretrained", "multitask"])
def test_an_overshooting_meta_step_is_undone(kind):
    trainer, control = _trainer(kind)
    snapshots = trainer.run(control)
    for _ in range(4):
        next(snapshots)
    before_overshoot = _params(trainer.learner)
    control.set_rates(meta_lr=50.0)
    next(snapshots)  # this step jumps far; its own loss was measured before the jump
    with pytest.raises(DivergedError) as caught:
        next(snapshots)  # the jump is found here: the loss of the new parameters blew up
    assert caught.value.iteration == 6 and caught.value.kept_iteration == 4
    assert trainer.learner.iteration == 4
    for name, tensor in trainer.learner.tensors.items():
        assert torch.equal(tensor, before_overshoot[name]), name
    # History past the kept iteration is forgotten, so resuming does not record it twice.
    assert [i for i, _ in trainer.losses] == [1, 2, 3, 4]
    assert all(v.iteration <= 4 for v in trainer.validations)
    control.set_rates(meta_lr=1e-3)
    losses = [s.loss for s in trainer.run(control)]
    assert len(losses) == 46 and max(losses) < 100


def test_a_non_finite_parameter_after_the_step_is_rolled_back(monkeypatch):
    learner = make_learner(default_config("pretrained", meta_batch=5))
    batch = learner.sample_batch(make_generator(0))
    before = _params(learner)

    def poisoned_step(*args, **kwargs):
        with torch.no_grad():
            learner.tensors["layer0.bias"].fill_(float("nan"))

    monkeypatch.setattr(learner.optimizer, "step", poisoned_step)
    with pytest.raises(DivergedError, match="a parameter became non-finite"):
        learner.meta_train_step(batch)
    for name, tensor in learner.tensors.items():
        assert torch.equal(tensor, before[name])
    assert learner.iteration == 0


def test_sane_but_slow_training_is_never_flagged():
    learner = make_learner(default_config("maml", inner_lr=0.3, meta_lr=0.01))  # rough, not divergent
    generator = make_generator(0)
    for _ in range(200):
        learner.meta_train_step(learner.sample_batch(generator))
    assert learner.iteration == 200


def test_adaptation_that_diverges_returns_non_finite_predictions_without_raising():
    learner = make_learner(default_config("maml"))
    batch = learner.family.sample_batch(4, 5, 10, make_generator(0))
    predictions = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 10, lr=1e3)
    assert not torch.isfinite(predictions[-1]).all()
