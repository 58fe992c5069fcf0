"""Checkpoints round-trip exactly and every bad file is refused with its reason."""

import math
import os
import pickle
import zipfile

import pytest
import torch

from metaviz import load_learner
from metaviz.checkpoint import FORMAT, CheckpointError, load_trainer, save_checkpoint
from metaviz.jobs import TrainControl
from metaviz.jobs.training import Trainer
from metaviz.learners import default_config, learner_names, make_learner
from metaviz.streams import make_generator


def _trainer(kind="maml", iterations=12):
    config = default_config(kind, iterations=iterations, meta_batch=5, pool_size=8, eval_every=5, eval_tasks=4)
    trainer = Trainer(make_learner(config))
    control = TrainControl(config.inner_lr, config.meta_lr)
    for _ in trainer.run(control):
        pass
    return trainer


@pytest.mark.parametrize("kind", learner_names())
def test_round_trip_gives_identical_predictions_and_history(tmp_path, kind):
    trainer = _trainer(kind)
    path = save_checkpoint(tmp_path / "run.pt", trainer)
    restored = load_trainer(path)
    batch = trainer.learner.family.sample_batch(6, 5, 30, make_generator(9))
    args = (batch.x_support, batch.y_support, batch.x_query, 5)
    assert torch.equal(trainer.learner.adapt_trajectory(*args), restored.learner.adapt_trajectory(*args))
    assert restored.learner.iteration == 12 and restored.learner.config == trainer.learner.config
    # first_order is a constructor option of the declaration, not a setting: it must survive too.
    assert getattr(restored.learner, "first_order", None) == getattr(trainer.learner, "first_order", None)
    assert restored.losses == trainer.losses and restored.validations == trainer.validations
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left behind


def test_interrupted_then_resumed_training_equals_an_uninterrupted_run(tmp_path):
    straight = _trainer(iterations=20)
    config = straight.learner.config
    interrupted = Trainer(make_learner(config))
    for snapshot in interrupted.run(TrainControl(config.inner_lr, config.meta_lr)):
        if snapshot.iteration == 9:
            break
    save_checkpoint(tmp_path / "half.pt", interrupted)
    resumed = load_trainer(tmp_path / "half.pt")
    for _ in resumed.run(TrainControl(config.inner_lr, config.meta_lr)):
        pass
    assert resumed.losses == straight.losses
    for name, tensor in straight.learner.tensors.items():
        assert torch.equal(resumed.learner.tensors[name], tensor)


def test_load_learner_returns_a_ready_learner(tmp_path):
    trainer = _trainer("multitask")
    save_checkpoint(tmp_path / "m.pt", trainer)
    learner = load_learner(tmp_path / "m.pt")
    assert learner.kind == "multitask" and learner.iteration == 12
    with pytest.raises(CheckpointError, match="holds a multitask learner, expected maml"):
        load_learner(tmp_path / "m.pt", kind="maml")


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_trainer(tmp_path / "nope.pt")


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "run.pt", _trainer())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_trainer(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_trainer(path)


def _rewrite(tmp_path, **changes):
    path = save_checkpoint(tmp_path / "run.pt", _trainer())
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)
    return path


def test_wrong_version(tmp_path):
    with pytest.raises(CheckpointError, match="format version 99"):
        load_trainer(_rewrite(tmp_path, version=99))


def test_not_a_metaviz_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(3)}}, path)
    with pytest.raises(CheckpointError, match="not a metaviz checkpoint"):
        load_trainer(path)


def test_kind_that_does_not_match_its_settings(tmp_path):
    with pytest.raises(CheckpointError, match="does not match"):
        load_trainer(_rewrite(tmp_path, kind="pretrained"))


def test_invalid_settings_inside(tmp_path):
    config = default_config("maml").to_dict()
    config["inner_lr"] = -1.0
    with pytest.raises(CheckpointError, match="inner_lr"):
        load_trainer(_rewrite(tmp_path, config=config))


def test_parameters_of_the_wrong_shape(tmp_path):
    path = save_checkpoint(tmp_path / "run.pt", _trainer())
    payload = torch.load(path, weights_only=True)
    payload["learner"]["tensors"]["layer1.weight"] = torch.zeros(3, 3)
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="layer1.weight has shape"):
        load_trainer(path)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the raw pickle below is the point
def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "version": 1, "payload": _Exploit(marker)}, path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError, match="holds code that could run"):
        load_trainer(path)
    assert not marker.exists()
    # A raw (non-zip) pickle is refused just the same.
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(CheckpointError):
        load_trainer(path)
    assert not marker.exists()


def test_unwritable_destination_is_a_clear_error_and_leaves_nothing(tmp_path):
    trainer = _trainer()
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint(tmp_path / "missing" / "run.pt", trainer)
    folder = tmp_path / "taken"
    folder.mkdir()  # a folder where the file should go: the rename must fail, even for root
    with pytest.raises(CheckpointError, match="cannot write"):
        save_checkpoint(folder, trainer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"] and not any(folder.iterdir())


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = _trainer()
    path = save_checkpoint(tmp_path / "run.pt", trainer)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(path, trainer)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_a_checkpoint_of_the_first_version_still_loads(tmp_path):
    # The first version wrote the sinusoid's ranges as flat fields and named no plugins.
    trainer = _trainer()
    path = save_checkpoint(tmp_path / "old.pt", trainer)
    payload = torch.load(path, weights_only=True)
    payload["config"]["task"] = {"amp_min": 0.1, "amp_max": 5.0, "phase_min": 0.0, "phase_max": math.pi,
                                 "x_min": -5.0, "x_max": 5.0, "noise_std": 0.0}
    payload.pop("plugins", None)
    torch.save(payload, path)
    restored = load_trainer(path)
    assert restored.learner.family.ranges == {"amp": (0.1, 5.0), "phase": (0.0, math.pi), "x": (-5.0, 5.0)}
    assert restored.learner.config == trainer.learner.config and restored.losses == trainer.losses
