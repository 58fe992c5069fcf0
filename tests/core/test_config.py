"""Settings: validation names the field, every setting is bounded; dicts round-trip."""

import json
import math

import pytest

from metaviz.config import MAX_DEPTH, MAX_MAGNITUDE, MAX_RATE, MAX_WIDTH, TaskConfig, TrainConfig
from metaviz.learners import default_config, make_learner
from metaviz.registry import UnknownNameError
from metaviz.tasks import make_family


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inner_lr": float("nan")}, "inner_lr"),
        ({"inner_lr": -0.1}, "inner_lr"),
        ({"meta_lr": float("inf")}, "meta_lr"),
        ({"shots": 0}, "shots"),
        ({"meta_batch": 2.5}, "meta_batch"),
        ({"iterations": True}, "iterations"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"hidden": ()}, "hidden"),
        ({"learner": "not a name"}, "learner"),
        ({"final_lr_fraction": 1.5}, "final_lr_fraction"),
    ],
)
def test_invalid_values_raise_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        default_config("maml").with_changes(**changes)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ((("amp", 3.0, 1.0),), "amp range is empty or reversed"),
        ((("x", float("nan"), 5.0),), "x range low must be finite"),
        ((("phase", 1.0, 1.0),), "phase range is empty or reversed"),
        ((("amp", 0.1, 5.0), ("amp", 1.0, 2.0)), "'amp' is given twice"),
        ((("amp", 0.1),), "must be \\(name, low, high\\)"),
    ],
)
def test_invalid_task_ranges_raise_naming_the_range(ranges, message):
    with pytest.raises(ValueError, match=message):
        TaskConfig(ranges=ranges)


def test_unknown_names_fail_where_they_are_looked_up():
    # The config knows no learner or family names: the registries say which exist.
    config = TrainConfig(learner="nosuchlearner")
    with pytest.raises(UnknownNameError, match="unknown learner 'nosuchlearner'; known: .*maml"):
        make_learner(config)
    with pytest.raises(UnknownNameError, match="nosuchlearner"):
        default_config("nosuchlearner")
    assert issubclass(UnknownNameError, ValueError)
    with pytest.raises(UnknownNameError, match="unknown task family 'tangent'"):
        make_family(TaskConfig(family="tangent"))
    with pytest.raises(ValueError, match="no parameter 'freq'"):
        make_family(TaskConfig(ranges=(("freq", 1.0, 2.0),)))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: default_config("maml", seed=10**30), "seed"),
        (lambda: default_config("maml", seed=-1), "seed"),
        (lambda: default_config("maml", hidden=(100_000,)), "hidden layer width"),
        (lambda: default_config("maml", hidden=(40, MAX_WIDTH + 1)), "hidden layer width"),
        (lambda: default_config("maml", hidden=(40,) * 9), "hidden"),
        (lambda: default_config("maml", iterations=10**12), "iterations"),
        (lambda: default_config("maml", inner_steps=101), "inner_steps"),
        (lambda: default_config("maml", meta_lr=MAX_RATE * 2), "meta_lr"),
        (lambda: TaskConfig(ranges=(("x", -1e308, 1e308),)), "x range"),
        (lambda: TaskConfig(ranges=(("amp", 0.1, MAX_MAGNITUDE * 10),)), "amp range"),
        (lambda: TaskConfig(noise_std=MAX_MAGNITUDE * 10), "noise_std"),
    ],
)
def test_every_setting_is_bounded(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def test_the_bounds_themselves_are_allowed():
    config = default_config("maml", seed=2**31 - 1, hidden=(MAX_WIDTH,) * MAX_DEPTH, meta_lr=MAX_RATE)
    assert config.hidden == (MAX_WIDTH,) * MAX_DEPTH and config.seed == 2**31 - 1
    assert TaskConfig(ranges=(("x", -MAX_MAGNITUDE, MAX_MAGNITUDE),)).range("x") == (-MAX_MAGNITUDE, MAX_MAGNITUDE)


def test_round_trip_through_json():
    task = TaskConfig().with_range("amp", 0.1, 10.0)
    config = default_config("multitask", seed=7, hidden=(32, 16), task=task)
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.task.range("amp") == (0.1, 10.0) and again.hidden == (32, 16)
    assert again.task.range("phase") is None  # not overridden: the family's default applies


def test_a_learner_writes_out_every_range_of_its_family():
    learner = make_learner(default_config("maml", task=TaskConfig().with_range("amp", 1.0, 2.0)))
    assert learner.family.ranges == {"amp": (1.0, 2.0), "phase": (0.0, math.pi), "x": (-5.0, 5.0)}
    assert learner.config.task.range("amp") == (1.0, 2.0)
    assert learner.config.task.range("phase") == (0.0, math.pi) and learner.config.task.range("x") == (-5.0, 5.0)


def test_the_first_versions_flat_task_dict_still_loads():
    old = {"amp_min": 0.1, "amp_max": 5, "phase_min": 0, "phase_max": 3.14, "x_min": -5, "x_max": 5, "noise_std": 0}
    task = TaskConfig.from_dict(old)
    assert task.family == "sinusoid" and task.noise_std == 0
    assert (task.range("amp"), task.range("phase"), task.range("x")) == ((0.1, 5), (0, 3.14), (-5, 5))
    family = make_family(task)
    assert family.ranges == {"amp": (0.1, 5.0), "phase": (0.0, 3.14), "x": (-5.0, 5.0)}
    # ... and round-trips through the new format.
    assert TaskConfig.from_dict(json.loads(json.dumps(family.config.to_dict()))) == family.config
    with pytest.raises(ValueError, match="unknown task setting"):
        TaskConfig.from_dict({**old, "freq_min": 1})


def test_changing_the_family_drops_the_other_familys_ranges():
    config = default_config("maml", task=TaskConfig().with_range("amp", 1.0, 2.0))
    assert config.with_changes(noise_std=0.5).task.range("amp") == (1.0, 2.0)
    assert config.with_changes(family="other").task == TaskConfig(family="other")


@pytest.mark.parametrize(
    "data",
    [[1, 2], {"nonsense": 1}, {"task": {"bogus": 1}}, {"task": 3}, {"hidden": "40"}, {"shots": "ten"},
     {"task": {"ranges": {"amp": [1]}}}, {"task": {"ranges": [1, 2]}}, {"first_order": True}],
)
def test_bad_dicts_are_rejected_clearly(data):
    with pytest.raises(ValueError):
        TrainConfig.from_dict(data)


def test_defaults_are_the_papers_setup():
    config = default_config("maml")
    assert (config.shots, config.query, config.meta_batch, config.inner_steps) == (10, 10, 25, 1)
    assert config.inner_lr == 0.01 and config.hidden == (40, 40)
    assert TaskConfig() == TaskConfig("sinusoid", (), 0.0)
    assert make_family().ranges == {"amp": (0.1, 5.0), "phase": (0.0, math.pi), "x": (-5.0, 5.0)}
    assert make_learner(default_config("fomaml")).first_order and not make_learner(config).first_order
