"""Settings: validation names the field; dicts round-trip."""

import json
import math

import pytest

from metaviz.config import TaskConfig, TrainConfig, default_config


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inner_lr": float("nan")}, "inner_lr"),
        ({"inner_lr": -0.1}, "inner_lr"),
        ({"meta_lr": float("inf")}, "meta_lr"),
        ({"shots": 0}, "shots"),
        ({"meta_batch": 2.5}, "meta_batch"),
        ({"iterations": True}, "iterations"),
        ({"learner": "reptile"}, "learner"),
        ({"amp_min": 3.0, "amp_max": 1.0}, "amp"),
        ({"x_min": float("nan")}, "x_min"),
        ({"phase_min": 1.0, "phase_max": 1.0}, "phase"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"hidden": ()}, "hidden"),
    ],
)
def test_invalid_values_raise_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        default_config("maml").with_changes(**changes)


def test_round_trip_through_json():
    config = default_config("multitask", seed=7, amp_max=10.0, hidden=(32, 16))
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.task.amp_max == 10.0 and again.hidden == (32, 16)


@pytest.mark.parametrize(
    "data",
    [[1, 2], {"nonsense": 1}, {"task": {"bogus": 1}}, {"task": 3}, {"hidden": "40"}, {"shots": "ten"}],
)
def test_bad_dicts_are_rejected_clearly(data):
    with pytest.raises(ValueError):
        TrainConfig.from_dict(data)


def test_defaults_are_the_papers_setup():
    config = default_config("maml")
    assert (config.shots, config.query, config.meta_batch, config.inner_steps) == (10, 10, 25, 1)
    assert config.inner_lr == 0.01 and config.hidden == (40, 40)
    assert TaskConfig() == TaskConfig(0.1, 5.0, 0.0, math.pi, -5.0, 5.0, 0.0)
    assert default_config("fomaml").first_order and not config.first_order
