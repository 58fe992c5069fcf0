"""The session's learners kept between launches: round trip, all-or-nothing saves,
damaged files left out with a line each, and a clear that removes only our files."""

from __future__ import annotations

import json
import multiprocessing
import sys

import pytest
import torch

from metaviz import session_store
from metaviz.checkpoint import CheckpointError
from metaviz.jobs import TrainControl, drain
from metaviz.jobs.training import Trainer, training_job
from metaviz.learners import default_config, make_learner
from metaviz.session_store import INDEX, SessionStore, StoreError


def trained(kind: str, iterations: int = 4) -> Trainer:
    config = default_config(kind, iterations=iterations, meta_batch=4, pool_size=10, eval_every=2, eval_tasks=5)
    trainer = Trainer(make_learner(config))
    drain(training_job(trainer, TrainControl(config.inner_lr, config.meta_lr)))
    return trainer


@pytest.fixture(scope="module")
def trainers():
    return {"MAML": trained("maml"), "my baseline": trained("pretrained", 3)}


def files(folder):
    """The folder's files but the lock, which stays (removing it while another window held
    it would split the lock in two)."""
    return sorted(p.name for p in folder.iterdir() if p.name != session_store.LOCK)


def test_round_trip_keeps_names_order_weights_history_and_the_active_one(tmp_path, trainers):
    store = SessionStore(tmp_path / "session")
    store.save(list(trainers.items()), active="my baseline")
    found = SessionStore(tmp_path / "session").load()
    assert found.problems == [] and found.active == "my baseline"
    assert [name for name, _ in found.entries] == ["MAML", "my baseline"]
    for (name, restored) in found.entries:
        original = trainers[name]
        assert restored.learner.kind == original.learner.kind and restored.learner.config == original.learner.config
        assert restored.learner.iteration == original.learner.iteration
        for key, tensor in original.learner.tensors.items():
            assert torch.equal(restored.learner.tensors[key], tensor), key
        assert list(restored.losses) == list(original.losses) and restored.validations == original.validations
        # The batch stream continues where it stopped: the next batch is the one the original would draw.
        assert torch.equal(restored.generator.get_state(), original.generator.get_state())


def test_a_new_save_replaces_the_previous_one_and_its_files(tmp_path, trainers):
    store = SessionStore(tmp_path)
    store.save(list(trainers.items()))
    (tmp_path / "notes.txt").write_text("the user's file")
    store.save([("only", trainers["MAML"])], active="only")
    found = store.load()
    assert [name for name, _ in found.entries] == ["only"] and found.active == "only"
    assert len([f for f in files(tmp_path) if f.endswith(".pt")]) == 1
    assert "notes.txt" in files(tmp_path)


def test_a_failing_save_leaves_the_previous_session_intact(tmp_path, trainers, monkeypatch):
    store = SessionStore(tmp_path)
    store.save(list(trainers.items()), active="MAML")
    before = files(tmp_path)
    calls = []
    original = session_store.save_checkpoint

    def failing(path, trainer):
        calls.append(path)
        if len(calls) == 2:  # a full disk on the second checkpoint
            raise CheckpointError(f"cannot write {path}: No space left on device")
        return original(path, trainer)

    monkeypatch.setattr(session_store, "save_checkpoint", failing)
    with pytest.raises(StoreError, match="No space left on device"):
        store.save([("a", trainers["MAML"]), ("b", trainers["MAML"])])
    assert files(tmp_path) == before  # the first new checkpoint was removed again
    found = store.load()
    assert [name for name, _ in found.entries] == ["MAML", "my baseline"] and found.active == "MAML"


def test_damaged_files_are_left_out_with_one_line_each(tmp_path, trainers):
    store = SessionStore(tmp_path)
    store.save(list(trainers.items()))
    index = json.loads((tmp_path / INDEX).read_text())
    (tmp_path / index["entries"][0]["file"]).write_bytes(b"truncated")
    index["entries"].append({"name": "escape", "file": "../../etc/passwd"})
    (tmp_path / INDEX).write_text(json.dumps(index))
    found = store.load()
    assert [name for name, _ in found.entries] == ["my baseline"]
    assert len(found.problems) == 2
    assert "'MAML' was not restored" in found.problems[0] and "malformed entry" in found.problems[1]
    # The unreadable checkpoint is set aside, not deleted by the next save: it may load later.
    kept = tmp_path / f"unrestored-{index['entries'][0]['file']}"
    assert kept.read_bytes() == b"truncated" and str(kept) in found.problems[0]
    store.save([("other", trainers["MAML"])])
    assert kept.exists()
    (tmp_path / INDEX).write_text("[[[" * 100_000)  # nested too deeply for json
    found = store.load()
    assert found.entries == [] and len(found.problems) == 1 and "cannot be read" in found.problems[0]


def test_nothing_saved_is_an_empty_session(tmp_path):
    found = SessionStore(tmp_path / "never written").load()
    assert found.entries == [] and found.problems == [] and found.active is None


def test_clear_removes_our_files_only(tmp_path, trainers):
    store = SessionStore(tmp_path)
    store.save(list(trainers.items()))
    (tmp_path / "notes.txt").write_text("the user's file")
    (tmp_path / ".learner-0123abcd-0.pt.x1y2.tmp").write_bytes(b"left by a kill mid-write")
    store.clear()
    assert files(tmp_path) == ["notes.txt"] and store.load().entries == []
    assert (tmp_path / session_store.LOCK).exists()


def test_an_unwritable_place_is_one_line(tmp_path, trainers):
    (tmp_path / "a file").write_text("x")
    with pytest.raises(StoreError, match="cannot create"):
        SessionStore(tmp_path / "a file" / "session").save([("MAML", trainers["MAML"])])


def test_a_store_knows_when_another_saved_after_it_loaded(tmp_path, trainers):
    first, second = SessionStore(tmp_path), SessionStore(tmp_path)  # two windows on one session
    first.save([("MAML", trainers["MAML"])])
    assert not first.saved_elsewhere()
    assert second.saved_elsewhere()  # it has not loaded this session
    second.load()
    assert not first.saved_elsewhere() and not second.saved_elsewhere()
    second.save([("my baseline", trainers["my baseline"])])
    assert first.saved_elsewhere() and not second.saved_elsewhere()
    first.load()
    assert not first.saved_elsewhere()
    second.clear()
    assert first.saved_elsewhere() and not second.saved_elsewhere()


def _save_repeatedly(folder: str, name: str, rounds: int, start) -> None:
    """In another process: save a one-learner session ``rounds`` times after ``start``,
    reading the session back after each save; exit status 3 if a read found it broken."""
    store, trainer = SessionStore(folder), trained("maml", 2)
    start.wait()
    broken = 0
    for _ in range(rounds):
        store.save([(name, trainer)])
        broken += bool(store.load().problems)
    sys.exit(3 if broken else 0)


def test_two_processes_saving_at_once_leave_a_whole_session(tmp_path):
    """Without the lock, one save's clean-up removed the files the other had just written,
    before its index named them: the session then pointed at missing checkpoints."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    savers = [context.Process(target=_save_repeatedly, args=(str(tmp_path), name, 100, start))
              for name in ("first", "second")]
    for saver in savers:
        saver.start()
    start.set()
    for saver in savers:
        saver.join(timeout=300)
    assert [saver.exitcode for saver in savers] == [0, 0]
    found = SessionStore(tmp_path).load()
    assert not found.problems and [name for name, _ in found.entries] in (["first"], ["second"])
    listed = json.loads((tmp_path / INDEX).read_text())["entries"]
    assert files(tmp_path) == sorted([INDEX, *(row["file"] for row in listed)])  # nothing left behind
