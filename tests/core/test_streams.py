"""Every random stream is named once, draws its own numbers, and the default task
stream is pinned: a change to it changes every trained model and published figure."""

import torch

from metaviz.jobs.evaluation import evaluate
from metaviz.jobs.training import Trainer
from metaviz.learners import default_config, learner_names, make_learner
from metaviz.streams import (
    EVALUATION_SEED,
    TRAINING_BATCHES_OFFSET,
    Stream,
    make_generator,
    stream,
    training_batches,
)
from metaviz.tasks import make_family

SEEDS = range(10)
MAX_SHOTS = 1000  # evaluation's support stream is offset by K, 1 <= K <= 1000


def test_the_offsets_are_distinct():
    values = [member.value for member in Stream]
    assert len(values) == len(set(values)) == len(Stream.__members__)  # no member is an alias
    # The evaluation support streams take EVALUATION_SUPPORT + K for every K: no other offset lies there.
    support = range(Stream.EVALUATION_SUPPORT.value + 1, Stream.EVALUATION_SUPPORT.value + MAX_SHOTS + 1)
    assert not [m for m in Stream if m is not Stream.EVALUATION_SUPPORT and m.value in support]
    # Training batches share the run's seed with the initial weights only (documented in streams.py).
    assert [m for m in Stream if m.value == TRAINING_BATCHES_OFFSET] == [Stream.PARAMETER_INIT]


def test_the_offsets_are_pinned():
    assert {m.name: m.value for m in Stream} == {
        "PARAMETER_INIT": 0,
        "VALIDATION": 1_000_003,
        "MULTITASK_POOL": 7_919,
        "WINDOW_TASKS": 15_485_863,
        "EVALUATION_SUPPORT": 1,
        "EVALUATION_QUERY_NOISE": 32_452_843,
        "WINDOW_FUNCTION_SAMPLES": 49_979_687,
    }
    assert TRAINING_BATCHES_OFFSET == 0 and EVALUATION_SEED == 20_170_703


def _first_task(generator):
    return tuple(make_family().sample_tasks(1, generator)[0].tolist())


def test_no_two_task_streams_coincide_for_seeds_0_to_9():
    firsts = {}
    for seed in SEEDS:
        firsts[("training batches", seed)] = _first_task(training_batches(seed))
        for which in (Stream.VALIDATION, Stream.MULTITASK_POOL, Stream.WINDOW_TASKS):
            firsts[(which.name, seed)] = _first_task(stream(which, seed))
    firsts[("evaluation tasks", EVALUATION_SEED)] = _first_task(make_generator(EVALUATION_SEED))
    for k in (5, 10, 20):  # evaluation support streams draw inputs, but must not repeat a task stream either
        firsts[("evaluation support", k)] = _first_task(stream(Stream.EVALUATION_SUPPORT, EVALUATION_SEED, k))
    firsts[("evaluation query noise", EVALUATION_SEED)] = _first_task(
        stream(Stream.EVALUATION_QUERY_NOISE, EVALUATION_SEED))
    by_task = {}
    for name, task in firsts.items():
        by_task.setdefault(task, []).append(name)
    shared = {task: names for task, names in by_task.items() if len(names) > 1}
    assert not shared, f"streams draw the same first task: {shared}"


def test_the_window_and_the_pool_draw_different_tasks():
    for seed in SEEDS:
        learner = make_learner(default_config("multitask", seed=seed, pool_size=5, meta_batch=5))
        window_first = make_family().sample_tasks(1, stream(Stream.WINDOW_TASKS, seed))[0]
        assert not torch.equal(window_first, learner.pool[0]), seed


def test_the_learners_use_their_named_streams():
    config = default_config("multitask", seed=3, pool_size=7, meta_batch=7, eval_tasks=4)
    learner = make_learner(config)
    assert learner.pool.shape == (7, 2)
    assert torch.equal(learner.pool, make_family().sample_tasks(7, stream(Stream.MULTITASK_POOL, 3)))
    trainer = Trainer(learner)
    expected = make_family().sample_batch(4, config.shots, trainer.validation_batch.x_query.shape[1],
                                          stream(Stream.VALIDATION, 3))
    assert torch.equal(trainer.validation_batch.tasks, expected.tasks)
    assert torch.equal(trainer.validation_batch.x_support, expected.x_support)


# The first three tasks of the default task stream (sinusoid, seed 0): amplitude, phase.
# Computed once from metaviz 0.2.0. If this fails, every trained model and every figure
# in README changes: do that only on purpose, and re-measure them.
PINNED_TASKS = [
    [2.5316574573516846, 0.4147860109806061],
    [3.8642868995666504, 0.9657973051071167],
    [0.5335394144058228, 1.9920170307159424],
]


def test_the_default_task_stream_is_pinned():
    tasks = make_family().sample_tasks(3, training_batches(0))
    assert tasks.dtype == torch.float32
    assert tasks.tolist() == PINNED_TASKS


def test_training_draws_its_first_batch_from_the_pinned_stream():
    learner = make_learner(default_config("maml", meta_batch=3))
    batch = learner.sample_batch(Trainer(learner).generator)
    assert batch.tasks.tolist() == PINNED_TASKS


def test_nothing_touches_the_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    for kind in learner_names():
        learner = make_learner(default_config(kind, meta_batch=4, pool_size=4, seed=1))
        generator = training_batches(1)
        for _ in range(2):
            learner.meta_train_step(learner.sample_batch(generator))
        evaluate(learner, shots=(5,), steps=1, num_tasks=4)
    assert torch.equal(torch.rand(3), expected)
