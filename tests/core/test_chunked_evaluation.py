"""Evaluation in chunks of tasks gives exactly the numbers of one big chunk, reports
one unit per (chunk, K), and stops when its generator is closed."""

import math

import pytest
import torch

from metaviz.jobs import Progress, Result
from metaviz.jobs.evaluation import evaluate, evaluation_job
from metaviz.protocol import EvaluationResult
from tests.helpers import trained_learner

SHOTS = (2, 5, 10)
NUM_TASKS = 30


@pytest.fixture(scope="module")
def learners():
    # Trained (not at their initialisation) and on noise-free tasks (the default family).
    found = {kind: trained_learner(kind, iterations=20) for kind in ("maml", "multitask")}
    assert all(learner.family.noise_std == 0 for learner in found.values())
    return found


def _run(learner, chunk, num_tasks=NUM_TASKS):
    events = list(evaluation_job(learner, shots=SHOTS, steps=3, num_tasks=num_tasks, chunk=chunk))
    progress = [e for e in events if isinstance(e, Progress)]
    results = [e for e in events if isinstance(e, Result)]
    assert len(results) == 1 and events[-1] is results[0]
    return progress, results[0].value


@pytest.mark.parametrize("kind", ["maml", "multitask"])
def test_chunks_of_seven_give_the_curves_of_one_chunk(learners, kind):
    learner = learners[kind]
    _, whole = _run(learner, chunk=NUM_TASKS)
    _, chunked = _run(learner, chunk=7)
    assert isinstance(whole, EvaluationResult) and set(whole.curves) == set(SHOTS)
    for k in SHOTS:
        a, b = whole.curves[k], chunked.curves[k]
        for name in ("mean", "ci95", "median", "diverged"):
            assert getattr(a, name) == getattr(b, name), (k, name)  # exact, not approximate
        assert torch.equal(torch.tensor(a.mean), torch.tensor(b.mean))
        assert a.num_tasks == b.num_tasks == NUM_TASKS
    assert whole.to_dict() == chunked.to_dict()
    # The numbers are the default evaluation's too (same generators, same order of draws).
    assert evaluate(learner, shots=SHOTS, steps=3, num_tasks=NUM_TASKS).to_dict() == whole.to_dict()


@pytest.mark.parametrize(("num_tasks", "chunk"), [(30, 7), (30, 30), (30, 1000), (28, 7), (2, 1)])
def test_one_progress_unit_per_chunk_and_k(learners, num_tasks, chunk):
    progress, result = _run(learners["maml"], chunk=chunk, num_tasks=num_tasks)
    units = math.ceil(num_tasks / chunk) * len(SHOTS)
    assert len(progress) == units
    assert [p.done for p in progress] == list(range(1, units + 1))
    assert all(p.total == units for p in progress)
    assert result.num_tasks == num_tasks


def test_closing_the_job_after_the_first_unit_stops_it(learners, monkeypatch):
    learner = learners["maml"]
    calls = []
    adapt = learner.adapt_trajectory

    def counting(*args, **kwargs):
        calls.append(args[0].shape[0])
        return adapt(*args, **kwargs)

    monkeypatch.setattr(learner, "adapt_trajectory", counting)
    job = evaluation_job(learner, shots=SHOTS, steps=3, num_tasks=NUM_TASKS, chunk=7)
    first = next(job)
    assert isinstance(first, Progress) and (first.done, first.total) == (1, 15)
    job.close()
    assert list(job) == []  # no Result, no further unit
    assert calls == [7]  # the work of one unit: one chunk of tasks for one K
