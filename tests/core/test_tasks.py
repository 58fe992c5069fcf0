"""Sampling: seed-deterministic, inside the ranges, labels equal A sin(x - phase)."""

import math

import numpy as np
import pytest
import torch

from metaviz.config import TaskConfig
from metaviz.streams import make_generator
from metaviz.tasks import FAMILY_REGISTRY, TaskFamily, family_names, make_family
from metaviz.tasks.base import check_family
from metaviz.tasks.sinusoid import Sinusoid


def test_global_rng_is_untouched():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_family(TaskConfig(noise_std=0.1)).sample_batch(4, 5, 5, make_generator(1))
    assert torch.equal(torch.rand(3), expected)


def test_samples_lie_in_the_configured_ranges_and_labels_are_the_sinusoid():
    config = TaskConfig(ranges=(("amp", 2.0, 3.0), ("phase", 0.5, 1.0), ("x", -1.0, 4.0)))
    batch = make_family(config).sample_batch(500, 10, 20, make_generator(0))
    assert batch.x_support.shape == (500, 10, 1) and batch.x_query.shape == (500, 20, 1)
    assert batch.tasks.shape == (500, 2)  # one column per declared parameter: amp, phase
    amplitude, phase = batch.tasks[:, 0], batch.tasks[:, 1]
    assert amplitude.min() >= 2.0 and amplitude.max() <= 3.0
    assert phase.min() >= 0.5 and phase.max() <= 1.0
    for x in (batch.x_support, batch.x_query):
        assert x.min() >= -1.0 and x.max() <= 4.0
    amp = amplitude.numpy()[:, None, None]
    shift = phase.numpy()[:, None, None]
    np.testing.assert_allclose(batch.y_query.numpy(), amp * np.sin(batch.x_query.numpy() - shift), atol=1e-5)
    np.testing.assert_allclose(batch.y_support.numpy(), amp * np.sin(batch.x_support.numpy() - shift), atol=1e-5)


def test_query_points_are_never_support_points():
    batch = make_family().sample_batch(200, 20, 100, make_generator(3))
    same = batch.x_query.unsqueeze(2) == batch.x_support.unsqueeze(1).transpose(2, 3)
    assert not same.any()


def test_label_noise_has_the_configured_scale():
    family = make_family(TaskConfig(noise_std=0.5))
    batch = family.sample_batch(100, 50, 1, make_generator(0))
    residual = batch.y_support - family.truth(batch.tasks, batch.x_support)
    assert residual.std().item() == pytest.approx(0.5, rel=0.05)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="points"):
        make_family().sample_batch(3, 0, 5, make_generator(0))
    with pytest.raises(ValueError, match="num_tasks"):
        make_family().sample_tasks(0, make_generator(0))


def test_the_sinusoid_family_is_declared_with_the_papers_ranges():
    assert "sinusoid" in family_names() and FAMILY_REGISTRY.get("sinusoid") is Sinusoid
    family = make_family()
    assert isinstance(family, Sinusoid)
    assert [p.name for p in family.parameters] == ["amp", "phase"]
    assert family.ranges == {"amp": (0.1, 5.0), "phase": (0.0, math.pi), "x": (-5.0, 5.0)}
    assert family.y_bound() == 5.0
    # The written-out settings build the same family.
    assert make_family(family.config).ranges == family.ranges


def test_a_family_refuses_another_familys_settings():
    with pytest.raises(ValueError, match="cannot take settings of the 'other' family"):
        Sinusoid(TaskConfig(family="other"))


def test_the_default_y_bound_covers_the_truth():
    class Line(TaskFamily):  # no y_bound of its own: the generic one applies
        name, label = "line", "Line"
        parameters = Sinusoid.parameters[:1]

        def truth(self, tasks, x):
            return tasks[:, 0].view(-1, 1, 1) * x

    check_family(Line)
    # |A x| <= 5 * 5 on the default ranges; the grid reaches within a few percent of it.
    assert 24.0 < Line().y_bound() <= 25.0


def test_a_family_that_breaks_the_contract_is_refused():
    class NoTruth(TaskFamily):
        name, label, parameters = "no_truth", "x", ()

    with pytest.raises(ValueError, match="does not implement truth"):
        check_family(NoTruth)
    with pytest.raises(ValueError, match="TaskFamily subclasses"):
        check_family(object)
