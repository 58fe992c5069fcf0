"""Sampling: seed-deterministic, inside the ranges, labels equal A sin(x - phase)."""

import numpy as np
import pytest
import torch

from metaviz.config import TaskConfig
from metaviz.tasks import SinusoidFamily, make_generator


def test_same_seed_same_batch_and_other_seed_differs():
    family = SinusoidFamily()
    a = family.sample_batch(8, 5, 7, make_generator(11))
    b = family.sample_batch(8, 5, 7, make_generator(11))
    c = family.sample_batch(8, 5, 7, make_generator(12))
    for name in ("x_support", "y_support", "x_query", "y_query", "amplitude", "phase"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.x_support, c.x_support)


def test_global_rng_is_untouched():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    SinusoidFamily().sample_batch(4, 5, 5, make_generator(1))
    assert torch.equal(torch.rand(3), expected)


def test_samples_lie_in_the_configured_ranges_and_labels_are_the_sinusoid():
    config = TaskConfig(amp_min=2.0, amp_max=3.0, phase_min=0.5, phase_max=1.0, x_min=-1.0, x_max=4.0)
    batch = SinusoidFamily(config).sample_batch(500, 10, 20, make_generator(0))
    assert batch.x_support.shape == (500, 10, 1) and batch.x_query.shape == (500, 20, 1)
    assert batch.amplitude.min() >= 2.0 and batch.amplitude.max() <= 3.0
    assert batch.phase.min() >= 0.5 and batch.phase.max() <= 1.0
    for x in (batch.x_support, batch.x_query):
        assert x.min() >= -1.0 and x.max() <= 4.0
    amp = batch.amplitude.numpy()[:, None, None]
    phase = batch.phase.numpy()[:, None, None]
    np.testing.assert_allclose(batch.y_query.numpy(), amp * np.sin(batch.x_query.numpy() - phase), atol=1e-5)


def test_query_points_are_never_support_points():
    batch = SinusoidFamily().sample_batch(200, 20, 100, make_generator(3))
    same = batch.x_query.unsqueeze(2) == batch.x_support.unsqueeze(1).transpose(2, 3)
    assert not same.any()


def test_label_noise_has_the_configured_scale():
    family = SinusoidFamily(TaskConfig(noise_std=0.5))
    batch = family.sample_batch(100, 50, 1, make_generator(0))
    residual = batch.y_support - family.truth(batch.amplitude, batch.phase, batch.x_support)
    assert residual.std().item() == pytest.approx(0.5, rel=0.05)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="points"):
        SinusoidFamily().sample_batch(3, 0, 5, make_generator(0))
    with pytest.raises(ValueError, match="num_tasks"):
        SinusoidFamily().sample_tasks(0, make_generator(0))
