"""The training generator: determinism, control from another thread, schedule, validation."""

import sys
import threading

import pytest

from metaviz.config import default_config
from metaviz.learners.base import make_learner
from metaviz.training import VALIDATION_STEPS, TrainControl, Trainer, cosine_factor


def _trainer(**changes):
    config = default_config("maml", iterations=40, meta_batch=5, eval_every=10, eval_tasks=8, **changes)
    return Trainer(make_learner(config)), TrainControl(config.inner_lr, config.meta_lr)


def test_same_seed_same_history():
    (a, ca), (b, cb) = _trainer(), _trainer()
    assert [s.loss for s in a.run(ca)] == [s.loss for s in b.run(cb)]
    (c, cc) = _trainer(seed=1)
    assert [s.loss for s in c.run(cc)] != a.losses


def test_snapshots_are_copies_and_validation_runs_on_schedule():
    trainer, control = _trainer()
    snapshots = list(trainer.run(control))
    assert [s.iteration for s in snapshots] == list(range(1, 41))
    assert [v.iteration for v in trainer.validations] == [1, 10, 20, 30, 40]
    assert all(len(v.mse) == VALIDATION_STEPS + 1 for v in trainer.validations)
    first, last = snapshots[0].params, snapshots[-1].params
    assert not (first["layer0.weight"] == last["layer0.weight"]).all()  # not aliases of live tensors


def test_meta_lr_follows_the_cosine_schedule_of_the_base_rate():
    trainer, control = _trainer()
    control.set_rates(meta_lr=0.02)
    snapshots = list(trainer.run(control))
    fraction = trainer.learner.config.final_lr_fraction
    assert snapshots[0].meta_lr == pytest.approx(0.02)
    assert snapshots[20].meta_lr == pytest.approx(0.02 * cosine_factor(20, 40, fraction))
    assert cosine_factor(40, 40, fraction) == pytest.approx(fraction)


def test_stop_pause_and_single_steps_from_another_thread():
    trainer, control = _trainer()
    control.pause()
    seen = []
    worker = threading.Thread(target=lambda: seen.extend(s.iteration for s in trainer.run(control)))
    worker.start()
    try:
        for expected in (1, 2, 3):
            control.step_once()
            deadline = threading.Event()
            for _ in range(200):
                if len(seen) == expected:
                    break
                deadline.wait(0.01)
            assert seen == list(range(1, expected + 1))
        deadline.wait(0.1)
        assert seen == [1, 2, 3]  # paused: no step without permission
        control.stop()
        worker.join(timeout=5)
        assert not worker.is_alive()
        assert trainer.learner.iteration == 3
    finally:
        control.stop()
        worker.join(timeout=5)


def test_rates_set_mid_run_reach_the_next_step():
    trainer, control = _trainer()
    run = trainer.run(control)
    assert next(run).inner_lr == pytest.approx(0.01)
    control.set_rates(inner_lr=0.05)
    assert next(run).inner_lr == pytest.approx(0.05)
    assert trainer.learner.inner_lr == pytest.approx(0.05)


def test_loss_history_behaves_like_a_list_of_pairs_in_a_fraction_of_the_memory():
    from metaviz.training import LossHistory

    pairs = [(i, 1.0 / i) for i in range(1, 100_001)]
    history = LossHistory(pairs)
    assert history == pairs and pairs == history and len(history) == 100_000
    assert history[0] == (1, 1.0) and history[-2:] == pairs[-2:]
    assert [i for i, _ in history][:3] == [1, 2, 3]
    assert history != pairs[:-1]
    compact = sum(a.itemsize * len(a) for a in (history._iterations, history._losses))
    as_tuples = sum(sys.getsizeof(p) + sys.getsizeof(p[1]) for p in pairs[:1000]) * 100
    assert compact * 4 < as_tuples  # 16 bytes a pair against >= 80 for a tuple and its float
