"""Trained learners evaluated in worker processes give the numbers they give here, bit
for bit (plugins' learners and families included); the spec is a snapshot sharing
nothing with the learner; failures are one line; the rule for when processes pay."""

import dataclasses
import multiprocessing
from pathlib import Path

import pytest
import torch

from metaviz.config import TaskConfig
from metaviz.jobs import Log, drain
from metaviz.jobs.evaluation import EvaluationSpec, evaluate
from metaviz.jobs.runs import RunSpec, evaluation_workers, runs_job
from metaviz.learners import default_config, make_learner
from metaviz.oracle import OracleLearner
from metaviz.plugins import load_plugin_file
from metaviz.streams import make_generator
from metaviz.tasks import make_family
from tests.helpers import trained_learner

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = {"shots": (5, 10), "steps": 3, "num_tasks": 30, "seed": 11}


def in_workers(specs, workers=2):
    """The results of ``specs`` evaluated in ``workers`` processes, and the log lines."""
    events = []
    results = drain(runs_job(specs, workers), on_event=events.append)
    logs = [e.text for e in events if isinstance(e, Log)]
    assert f"{len(specs)} jobs in {min(workers, len(specs))} worker processes" in logs
    return results


def assert_same_numbers(a, b):
    """Every number of two results equal as floats, not merely close."""
    assert a.curves.keys() == b.curves.keys()
    for k in a.curves:
        for field in dataclasses.fields(a.curves[k]):
            assert getattr(a.curves[k], field.name) == getattr(b.curves[k], field.name), (k, field.name)
    assert (a.learner, a.iteration, a.task, a.num_tasks, a.seed) == (b.learner, b.iteration, b.task, b.num_tasks,
                                                                      b.seed)


def test_parallel_evaluation_equals_evaluating_here_in_turn():
    learners = {"maml": trained_learner("maml", iterations=10), "multitask": trained_learner("multitask", 10)}
    probe = TaskConfig(ranges=(("amp", 1.0, 3.0),))  # one learner on other tasks: the option travels too
    tasks = {"maml": None, "multitask": probe}
    oracle = OracleLearner(make_family(TaskConfig()))
    # The reference: the plain in-process evaluation of the learners themselves, one after another.
    here = [evaluate(learner, task=tasks[name], name=name, **PROTOCOL) for name, learner in learners.items()]
    here.append(evaluate(oracle, name="oracle", **PROTOCOL))
    specs = [EvaluationSpec.of(learner, name, task=tasks[name], **PROTOCOL) for name, learner in learners.items()]
    specs.append(EvaluationSpec.of(oracle, "oracle", **PROTOCOL))
    there = in_workers(specs)
    assert [r.learner for r in there] == ["maml", "multitask", "oracle"]
    for a, b in zip(here, there, strict=True):
        assert_same_numbers(a, b)
    assert there[1].task["ranges"]["amp"] == [1.0, 3.0] and there[0].task["ranges"]["amp"] == [0.1, 5.0]
    assert here[0].curves[5].mean != here[1].curves[5].mean  # two different learners, not one twice
    assert multiprocessing.active_children() == []


def test_a_spec_is_a_snapshot_sharing_nothing_with_the_learner():
    learner = trained_learner("maml", iterations=3)
    before = {name: t.clone() for name, t in learner.tensors.items()}
    spec = EvaluationSpec.of(learner, "mine", **PROTOCOL)
    generator = make_generator(5)
    learner.meta_train_step(learner.sample_batch(generator))  # the learner moves on after the spec
    rebuilt = spec.learner()
    assert rebuilt.iteration == 3 and rebuilt.inner_lr == learner.inner_lr
    for name, tensor in rebuilt.tensors.items():
        assert torch.equal(tensor, before[name]) and not torch.equal(tensor, learner.tensors[name]), name
        assert tensor.untyped_storage().data_ptr() != learner.tensors[name].untyped_storage().data_ptr()


def test_plugin_learners_and_families_work_in_workers(tmp_path):
    load_plugin_file(ROOT / "resources" / "plugins" / "linear_features.py")
    load_plugin_file(ROOT / "resources" / "plugins" / "square_wave.py")
    learner = make_learner(default_config("maml", family="squarewave", meta_batch=5))
    generator = make_generator(0)
    for _ in range(3):
        learner.meta_train_step(learner.sample_batch(generator))
    train = RunSpec(default_config("ridgefeatures", iterations=4, meta_batch=5, eval_every=1000),
                    tmp_path / "ridge.pt")
    run, result = in_workers([train, EvaluationSpec.of(learner, "square", **PROTOCOL)])
    assert run.iterations == 4 and run.checkpoint.is_file() and run.diverged is None
    assert result.task["family"] == "squarewave"
    assert_same_numbers(result, evaluate(learner, name="square", **PROTOCOL))


def test_a_failing_evaluation_is_one_line():
    learner = trained_learner("maml", iterations=1)
    specs = [EvaluationSpec.of(learner, name, **{**PROTOCOL, "steps": -1}) for name in ("a", "b")]
    with pytest.raises(RuntimeError, match=r"^evaluation of [ab] failed: ValueError: steps must be between"):
        drain(runs_job(specs, workers=2))
    assert multiprocessing.active_children() == []


def test_processes_only_where_their_start_up_pays(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert evaluation_workers(1, num_tasks=100_000) == 1  # one learner is not split
    assert evaluation_workers(6) == 1  # the default protocol: 0.3 s a learner, less than a start-up
    assert evaluation_workers(2, num_tasks=1000) == 1
    assert evaluation_workers(2, num_tasks=10_000) == 2
    assert evaluation_workers(5, num_tasks=10_000) == 2  # one process per core
    assert evaluation_workers(2, num_tasks=10_000, steps=0, shots=(5,)) == 1  # little work per task
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert evaluation_workers(5, num_tasks=100_000) == 1
