"""The window model's --device: training runs where the choice and the learner allow,
the display copies and everything a view reads stay on the CPU. The CUDA checks run
only where a CUDA device is present (the device machine's script, README Speed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metaviz import devices
from metaviz.devices import resolve_device
from metaviz.explorer import Explorer

from .test_explorer import SyncRunner, tiny

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("present", [False, True])
def test_auto_takes_cuda_only_where_present_and_the_learner_runs_there(monkeypatch, present):
    monkeypatch.setattr(devices, "cuda_present", lambda: present)
    assert resolve_device("auto", ("cpu", "cuda")) == ("cuda" if present else "cpu")
    assert resolve_device("auto", ("cpu",)) == "cpu"
    assert resolve_device("cpu", ("cpu", "cuda")) == "cpu"
    if present:
        # The CLI passes an explicit choice through (Learner.to refuses it in one line);
        # the window falls back to the CPU for a learner that runs only there.
        assert resolve_device("cuda", ("cpu",)) == "cuda"
        assert resolve_device("cuda", ("cpu",), fallback=True) == "cpu"
        assert resolve_device("cuda", ("cpu", "cuda"), fallback=True) == "cuda"


def test_an_unknown_device_is_one_line():
    with pytest.raises(ValueError, match=r"^device: expected one of auto, cpu, cuda, got 'tpu'$"):
        Explorer(tiny(), SyncRunner(), device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_the_window_model_refuses_cuda_where_there_is_none():
    with pytest.raises(ValueError, match="^device: cuda was asked for, but torch finds no CUDA device here$"):
        Explorer(tiny(), SyncRunner(), device="cuda")


def test_on_the_cpu_the_model_trains_on_the_cpu():
    runner = SyncRunner()
    model = Explorer(tiny(), runner, device="cpu")
    model.start()
    runner.advance(3)
    assert model.training_device == "cpu" and model.trainer.learner.device.type == "cpu"


def _trained(device: str, kind: str = "maml") -> tuple[Explorer, SyncRunner]:
    runner = SyncRunner()
    model = Explorer(tiny(kind, seed=3), runner, device=device)
    model.start()
    runner.advance()
    return model, runner


@cuda
def test_the_model_trains_on_cuda_like_the_cpu_and_views_read_cpu_arrays():
    gpu, _ = _trained("cuda")
    cpu, _ = _trained("cpu")
    assert gpu.training_device == "cuda" and gpu.trainer.learner.device.type == "cuda"
    assert gpu.iteration == cpu.iteration == 12
    assert np.allclose([loss for _, loss in gpu.losses], [loss for _, loss in cpu.losses], rtol=1e-4, atol=1e-5)
    assert all(t.device.type == "cpu" for t in gpu.snapshot.params.values())
    shown, expected = gpu.adaptation_view(), cpu.adaptation_view()
    assert isinstance(shown.trajectory, np.ndarray)
    assert np.allclose(shown.trajectory, expected.trajectory, atol=1e-4)


@cuda
def test_a_learner_that_runs_only_on_the_cpu_trains_there_under_cuda():
    model, runner = _trained("cuda", "multitask")
    assert model.training_device == "cpu" and model.trainer.learner.device.type == "cpu"
    model.switch_learner("maml")
    assert model.training_device == "cuda"
    model.start()
    runner.advance()
    assert model.trainer.learner.device.type == "cuda"
