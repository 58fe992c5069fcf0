"""--device: learners move with Learner.to; callers pass and get CPU tensors; checkpoints
hold CPU tensors. The CUDA checks run only where a CUDA device is present."""

import argparse

import pytest
import torch

from metaviz.commands import learner_device
from metaviz.learners import default_config, learner_names, learner_spec, make_learner
from metaviz.streams import make_generator

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def test_moving_to_the_device_it_is_on_changes_nothing():
    learner = make_learner(default_config("maml", meta_batch=3))
    flat, tensors = learner._flat, dict(learner.tensors)
    assert learner.to("cpu") is learner and learner.device == torch.device("cpu")
    assert learner._flat is flat and all(learner.tensors[n] is t for n, t in tensors.items())


def test_a_learner_written_for_the_cpu_refuses_cuda_in_one_line():
    learner = make_learner(default_config("multitask", meta_batch=4, pool_size=8))
    with pytest.raises(ValueError, match=r"^device: multitask runs on cpu, not cuda$"):
        learner.to("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_device_is_one_clear_line():
    learner = make_learner(default_config("maml", meta_batch=3))
    with pytest.raises(ValueError, match="no CUDA device"):
        learner.to("cuda")
    assert learner.device.type == "cpu"


def test_auto_picks_cuda_only_where_present_and_supported():
    auto = argparse.Namespace(device="auto")
    maml = make_learner(default_config("maml", meta_batch=3))
    multitask = make_learner(default_config("multitask", meta_batch=4, pool_size=8))
    assert learner_device(auto, maml) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert learner_device(auto, multitask) == "cpu"
    assert learner_device(argparse.Namespace(device="cpu"), maml) == "cpu"


ON_CUDA = [name for name in learner_names() if "cuda" in learner_spec(name).cls.devices]
# Reptile's pseudo-gradient theta - mean(phi) has entries at rounding level, and Adam's
# first steps move each entry by about its rate whatever its size: the CPU's and the
# GPU's rounding then part by a few rates (measured 2e-2 after 5 steps on an H100).
TOLERANCE = {"reptile": 5e-2}


def test_the_network_learners_run_on_cuda():
    assert {"maml", "fomaml", "anil", "metasgd", "cavia", "reptile", "pretrained"} <= set(ON_CUDA)


@cuda
@pytest.mark.parametrize("kind", ON_CUDA)
def test_training_on_cuda_follows_the_cpu_and_answers_on_the_cpu(kind):
    tolerance = TOLERANCE.get(kind, 1e-4)
    runs = {}
    for device in ("cpu", "cuda"):
        learner = make_learner(default_config(kind, meta_batch=5, seed=2)).to(device)
        generator = make_generator(2)
        for _ in range(5):
            learner.meta_train_step(learner.sample_batch(generator))
        runs[device] = learner
    cpu, gpu = runs["cpu"], runs["cuda"]
    assert gpu._flat.device.type == "cuda" and gpu.optimizer.exp_avg.device.type == "cuda"
    assert torch.allclose(gpu._flat.cpu(), cpu._flat, atol=tolerance)
    batch = cpu.family.sample_batch(4, 5, 7, make_generator(9))
    predictions = gpu.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 3)
    assert predictions.device.type == "cpu"
    assert torch.allclose(predictions, cpu.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, 3),
                          atol=tolerance)
    state = gpu.state_dict()
    tensors = [*state["tensors"].values(), state["optimizer"]["exp_avg"], state["optimizer"]["exp_avg_sq"]]
    assert all(t.device.type == "cpu" for t in tensors)
    snapshot = gpu.parameters_snapshot()
    assert all(t.device.type == "cpu" for t in snapshot.values())
    fresh = make_learner(gpu.config).to("cuda")
    fresh.load_state_dict(state)
    assert torch.equal(fresh._flat, gpu._flat) and torch.equal(fresh.optimizer.exp_avg, gpu.optimizer.exp_avg)
