"""Independent runs in worker processes give what the same runs give here, report
their progress, fail in one line, and leave no process behind when cancelled."""

import multiprocessing

import pytest
import torch

from metaviz.checkpoint import load_trainer
from metaviz.config import TaskConfig
from metaviz.jobs import Log, Progress, Result, drain
from metaviz.jobs.evaluation import EvaluationSpec
from metaviz.jobs.runs import RunSpec, longest_first, runs_job
from metaviz.learners import default_config
from metaviz.oracle import OracleLearner
from metaviz.tasks import make_family


def specs(folder, seeds=(0, 1), iterations=60, evaluate=None):
    return [RunSpec(default_config("maml", seed=s, iterations=iterations, meta_batch=5, eval_every=30),
                    folder / f"maml-seed{s}.pt", evaluate) for s in seeds]


def test_runs_in_processes_equal_the_same_runs_here(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    evaluate = {"num_tasks": 20, "shots": (5,)}
    inline = drain(runs_job(specs(here, evaluate=evaluate), workers=1))
    events = []
    parallel = drain(runs_job(specs(there, evaluate=evaluate), workers=2), on_event=events.append)
    for a, b in zip(inline, parallel):
        # One torch thread on both sides: the same arithmetic, bit for bit.
        left, right = load_trainer(a.checkpoint).learner, load_trainer(b.checkpoint).learner
        for name in left.tensors:
            assert torch.equal(left.tensors[name], right.tensors[name]), name
        assert a.result.curves[5].mean == b.result.curves[5].mean
        assert a.iterations == b.iterations == 60
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[-1].total == sum(s.units for s in specs(there, evaluate=evaluate))
    assert all(p.done <= p.total for p in progress)
    assert sum(isinstance(e, Log) and e.text.startswith("wrote") for e in events) == 2


def test_closing_the_job_terminates_its_workers(tmp_path):
    job = runs_job(specs(tmp_path, iterations=100_000), workers=2)
    for event in job:
        if isinstance(event, Progress):  # both are working
            break
    job.close()
    assert multiprocessing.active_children() == []
    assert not any(tmp_path.glob("*.pt")), "no run finished, so no checkpoint may exist"


def test_a_failing_run_is_one_line(tmp_path):
    bad = [RunSpec(default_config("maml", iterations=3, meta_batch=2), tmp_path / "missing" / "x.pt")] * 2
    with pytest.raises(RuntimeError, match=r"^run maml failed: CheckpointError: .*missing"):
        for event in runs_job(bad, workers=2):
            assert not isinstance(event, Result)
    assert multiprocessing.active_children() == []


def test_workers_take_the_longest_work_first(tmp_path):
    """The queue's order: each spec's declared cost (iterations x its learner's step_ms,
    or the evaluation's size), longest first, whatever the list's order."""
    runs = [RunSpec(default_config(kind, iterations=n), tmp_path / f"{kind}{n}.pt")
            for kind, n in (("maml", 1000), ("reptile", 1000), ("maml", 5000), ("pretrained", 1000))]
    evaluation = EvaluationSpec.of(OracleLearner(make_family(TaskConfig())), "oracle", num_tasks=100_000)
    order = [index for index, _ in longest_first([*runs, evaluation])]
    # maml 5000 x 0.53 ms = 2.65 s; reptile 1.5 s; evaluation 100,000 tasks x 3 K x 11 steps x 16 us = 53 s
    assert order == [4, 2, 1, 0, 3]
