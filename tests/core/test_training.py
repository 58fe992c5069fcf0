"""The training generator: determinism, control from another thread, schedule, validation."""

import math
import sys
import threading

import pytest

from metaviz.jobs import Progress, Result, TrainControl, drain
from metaviz.jobs.events import Cancelled
from metaviz.jobs.training import VALIDATION_STEPS, Trainer, TrainingProgress, cosine_factor, training_job
from metaviz.learners import default_config, make_learner


def _trainer(**changes):
    config = default_config("maml", **{"iterations": 40, "meta_batch": 5, "eval_every": 10, "eval_tasks": 8, **changes})
    return Trainer(make_learner(config)), TrainControl(config.inner_lr, config.meta_lr)


def test_same_seed_same_history():
    (a, ca), (b, cb) = _trainer(), _trainer()
    assert [s.loss for s in a.run(ca)] == [s.loss for s in b.run(cb)]
    assert a.losses == b.losses and len(a.losses) == 40
    (c, cc) = _trainer(seed=1)
    other = [s.loss for s in c.run(cc)]
    assert len(other) == 40 and other != [loss for _, loss in a.losses]


def test_snapshots_are_copies_and_validation_runs_on_schedule():
    trainer, control = _trainer()
    snapshots = list(trainer.run(control))
    assert [s.iteration for s in snapshots] == list(range(1, 41))
    assert [v.iteration for v in trainer.validations] == [1, 10, 20, 30, 40]
    assert all(len(v.mse) == VALIDATION_STEPS + 1 for v in trainer.validations)
    first, last = snapshots[0].params, snapshots[-1].params
    assert not (first["layer0.weight"] == last["layer0.weight"]).all()  # not aliases of live tensors


def test_meta_lr_follows_the_cosine_schedule_of_the_base_rate():
    trainer, control = _trainer(warmup=0)
    control.set_rates(meta_lr=0.02)
    snapshots = list(trainer.run(control))
    fraction = trainer.learner.config.final_lr_fraction
    assert snapshots[0].meta_lr == pytest.approx(0.02)
    assert snapshots[20].meta_lr == pytest.approx(0.02 * cosine_factor(20, 40, fraction))
    assert cosine_factor(40, 40, fraction) == pytest.approx(fraction)


def test_meta_lr_warms_up_linearly_then_follows_the_cosine():
    """The schedule each step used, against the formula written out here: (i + 1) / w for
    the first w = min(warmup, budget // 2) steps, then a cosine from 1 to the final fraction."""
    fraction = 0.1

    def expected(i, budget, warmup):
        w = min(warmup, budget // 2)
        if i < w:
            return (i + 1) / w
        return fraction + (1 - fraction) * (1 + math.cos(math.pi * (i - w) / (budget - w))) / 2

    for warmup, budget in ((8, 40), (500, 40)):  # the second: capped at half the budget
        trainer, control = _trainer(warmup=warmup, final_lr_fraction=fraction, iterations=budget)
        control.set_rates(meta_lr=0.02)
        rates = [s.meta_lr for s in trainer.run(control)]
        assert rates == pytest.approx([0.02 * expected(i, budget, warmup) for i in range(budget)], rel=1e-12)
    assert rates[19] == pytest.approx(0.02) and rates[0] == pytest.approx(0.001)  # peak reached at step 20


def test_maml_defaults_warm_up():
    """The warm-up is MAML's default (README's seeds table was measured with it), not every learner's."""
    assert default_config("maml").warmup == default_config("fomaml").warmup == 500
    assert default_config("pretrained").warmup == 0


def test_stop_pause_and_single_steps_from_another_thread():
    """The driver (jobs.drain) honours pause, single steps and stop between meta-steps."""
    trainer, control = _trainer()
    control.pause()
    seen, outcome = [], []
    changed = threading.Condition()

    def record(event):
        with changed:
            seen.append(event.snapshot.iteration)
            changed.notify_all()

    def work():
        try:
            drain(training_job(trainer, control), control=control, on_event=record)
            outcome.append("finished")
        except Cancelled:
            outcome.append("cancelled")

    worker = threading.Thread(target=work)
    worker.start()
    try:
        for expected in (1, 2, 3):
            control.step_once()
            with changed:
                assert changed.wait_for(lambda n=expected: len(seen) >= n, timeout=10)
            assert seen == list(range(1, expected + 1))
        with changed:
            changed.wait_for(lambda: len(seen) > 3, timeout=0.2)
        assert seen == [1, 2, 3]  # paused: no step without permission
        control.stop()
        worker.join(timeout=10)
        assert not worker.is_alive()
        assert outcome == ["cancelled"]
        assert trainer.learner.iteration == 3
    finally:
        control.stop()
        worker.join(timeout=10)


def test_the_trainer_itself_never_waits_pause_is_the_drivers():
    trainer, control = _trainer()
    control.pause()
    assert next(trainer.run(control)).iteration == 1  # would block forever if run() waited
    control.stop()
    with pytest.raises(Cancelled):
        drain(training_job(trainer, control), control=control)
    assert trainer.learner.iteration == 1


def test_drain_closes_a_cancelled_job_so_its_clean_up_runs():
    control = TrainControl(0.01, 0.01)
    cleaned = []

    def job():
        try:
            for i in range(100):
                yield Progress(i + 1, 100)
        finally:
            cleaned.append(True)

    events = []

    def record(event):
        events.append(event)
        if len(events) == 5:
            control.stop()  # from here on no further unit is run

    with pytest.raises(Cancelled):
        drain(job(), control=control, on_event=record)
    assert len(events) == 5 and cleaned == [True]
    assert drain(iter([Progress(1, 1), Result(42)])) == 42


def test_a_budget_set_mid_run_is_read_before_the_next_step():
    trainer, control = _trainer()
    run = trainer.run(control)
    for _ in range(3):
        next(run)
    control.set_budget(5)
    assert control.budget() == 5
    assert [s.iteration for s in run] == [4, 5]
    assert trainer.budget == 5 and trainer.done


def test_training_progress_carries_every_loss_even_when_merged():
    trainer, control = _trainer()
    events = list(training_job(trainer, control, with_params=False))
    assert [e.done for e in events] == list(range(1, 41)) and all(e.total == 40 for e in events)
    assert all(isinstance(e, TrainingProgress) for e in events)
    merged = events[0]
    for event in events[1:]:
        merged = event.merged_after(merged)
    assert merged.losses == list(trainer.losses) and merged.validations == trainer.validations
    assert merged.snapshot is events[-1].snapshot
    # Without params the snapshots carry them only where the held-out set was scored.
    assert [e.snapshot.params is not None for e in events] == [e.snapshot.validation is not None for e in events]


def test_rates_set_mid_run_reach_the_next_step():
    trainer, control = _trainer()
    run = trainer.run(control)
    assert next(run).inner_lr == pytest.approx(0.01)
    control.set_rates(inner_lr=0.05)
    assert next(run).inner_lr == pytest.approx(0.05)
    assert trainer.learner.inner_lr == pytest.approx(0.05)


def test_loss_history_behaves_like_a_list_of_pairs_in_a_fraction_of_the_memory():
    from metaviz.jobs.training import LossHistory

    pairs = [(i, 1.0 / i) for i in range(1, 100_001)]
    history = LossHistory(pairs)
    assert history == pairs and pairs == history and len(history) == 100_000
    assert history[0] == (1, 1.0) and history[-2:] == pairs[-2:]
    assert [i for i, _ in history][:3] == [1, 2, 3]
    assert history != pairs[:-1]
    compact = sum(a.itemsize * len(a) for a in (history._iterations, history._losses))
    as_tuples = sum(sys.getsizeof(p) + sys.getsizeof(p[1]) for p in pairs[:1000]) * 100
    assert compact * 4 < as_tuples  # 16 bytes a pair against >= 80 for a tuple and its float
