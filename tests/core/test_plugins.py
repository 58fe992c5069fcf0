"""Plugins: the two examples in resources/plugins, and how a broken plugin fails.

The registries are process-global: every bad plugin file has a unique name (and
declares unique names), and loading a good file twice returns the same names.
"""

import importlib.metadata
import math
import os
import types
import uuid
from pathlib import Path

import pytest
import torch

from metaviz.checkpoint import save_checkpoint
from metaviz.config import TaskConfig
from metaviz.jobs.training import Trainer
from metaviz.learners import LearnerSpec, default_config, learner_names, learner_spec, make_learner
from metaviz.learners.maml import MAML
from metaviz.learners.registry import check_spec
from metaviz.plugins import ENTRY_POINT_GROUP, ENV_VAR, PluginError, load_plugin_file, load_plugins
from metaviz.registry import Registry
from metaviz.tasks import FAMILY_REGISTRY, family_names, make_family, make_generator

ROOT = Path(__file__).resolve().parents[2]
RIDGE = ROOT / "resources" / "plugins" / "linear_features.py"
SQUARE = ROOT / "resources" / "plugins" / "square_wave.py"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def family_source(name: str) -> str:
    """A valid one-parameter family called ``name`` (y = a x)."""
    return (
        "from metaviz.tasks import Parameter, TaskFamily\n"
        f"class F(TaskFamily):\n"
        f"    name = {name!r}\n"
        "    label = 'a line'\n"
        "    parameters = (Parameter('a', 'slope', -1.0, 1.0),)\n"
        "    def truth(self, tasks, x):\n"
        "        return tasks[:, :1].unsqueeze(-1) * x\n"
        "FAMILIES = (F,)\n"
    )


# --- the examples -----------------------------------------------------------------------

def test_examples_register_their_names_once():
    assert load_plugin_file(RIDGE) == ["ridgefeatures"]
    assert load_plugin_file(SQUARE) == ["squarewave"]
    assert "ridgefeatures" in learner_names() and "squarewave" in family_names()
    # Idempotent, whatever the spelling of the path.
    assert load_plugin_file(str(RIDGE)) == ["ridgefeatures"]
    assert load_plugin_file(os.path.relpath(SQUARE)) == ["squarewave"]
    assert learner_names().count("ridgefeatures") == 1
    spec = learner_spec("ridgefeatures")
    assert spec.label == "ridge on learned features (plugin)" and spec.colour.startswith("#") and spec.description
    assert default_config("ridgefeatures").iterations == 300


def test_square_wave_truth_matches_hand_computed_values():
    load_plugin_file(SQUARE)
    family = make_family(TaskConfig(family="squarewave"))
    assert family.ranges == {"amp": (0.5, 3.0), "period": (2.0, 6.0), "phase": (0.0, 2 * math.pi), "x": (-5.0, 5.0)}
    tasks = torch.tensor([[2.0, 4.0, 0.0], [1.0, 2.0, math.pi / 2]])
    x = torch.tensor([[0.5, 1.5, 2.5, -1.0], [0.0, 1.0, 0.25, -0.9]]).unsqueeze(-1)
    # Task 0: 2 sign(sin(pi x / 2)); task 1: sign(sin(pi x - pi/2)) = sign(-cos(pi x)).
    expected = torch.tensor([[2.0, 2.0, -2.0, -2.0], [-1.0, 1.0, -1.0, 1.0]]).unsqueeze(-1)
    assert torch.equal(family.truth(tasks, x), expected)
    assert family.y_bound() == 3.0
    batch = family.sample_batch(50, 10, 10, make_generator(0))
    amp = batch.tasks[:, :1].unsqueeze(-1)
    assert torch.allclose(batch.y_support.abs(), amp.expand_as(batch.y_support))  # only ever +-A
    assert (batch.tasks[:, 1] >= 2).all() and (batch.tasks[:, 1] <= 6).all()


def ridge_learner(iterations: int = 0):
    load_plugin_file(RIDGE)
    learner = make_learner(default_config("ridgefeatures", meta_batch=5, hidden=(16, 16), seed=3))
    generator = make_generator(0)
    for _ in range(iterations):
        learner.meta_train_step(learner.sample_batch(generator))
    return learner


def test_ridge_step_one_is_the_closed_form_ridge_solution():
    learner = ridge_learner(iterations=5)
    batch = learner.family.sample_batch(6, 10, 30, make_generator(7))
    trajectory = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, steps=4)
    assert trajectory.shape == (5, 6, 30, 1)

    # Independently: the trunk by hand in float64, then ridge as least squares on the
    # stacked system [phi; sqrt(lambda) I] w = [y; 0].
    w0, b0, w1, b1 = (t.detach().double() for t in learner.tensors.values())

    def phi(x):
        h = torch.relu(torch.relu(x.double() @ w0 + b0) @ w1 + b1)
        return torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)

    ridge = learner_spec("ridgefeatures").options["ridge"]
    support = phi(batch.x_support)
    tasks, _, dim = support.shape
    stacked = torch.cat([support, math.sqrt(ridge) * torch.eye(dim, dtype=torch.float64).expand(tasks, dim, dim)], 1)
    rhs = torch.cat([batch.y_support.double(), torch.zeros(tasks, dim, 1, dtype=torch.float64)], 1)
    head = torch.linalg.lstsq(stacked, rhs).solution
    expected = phi(batch.x_query) @ head
    torch.testing.assert_close(trajectory[1].double(), expected, rtol=1e-3, atol=1e-3)
    assert torch.equal(trajectory[0], torch.zeros_like(trajectory[0]))  # the zero head
    for step in range(2, 5):  # no gradient steps: flat after one
        assert torch.equal(trajectory[step], trajectory[1])


def test_adapt_trajectory_leaves_parameters_bit_identical():
    learner = ridge_learner(iterations=3)
    before = {name: t.detach().clone() for name, t in learner.tensors.items()}
    grads = {name: t.grad.clone() for name, t in learner.tensors.items()}  # left by the last meta-step
    batch = learner.family.sample_batch(4, 5, 8, make_generator(1))
    out = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, steps=2, lr=0.5)
    assert not out.requires_grad  # no graph kept on the parameters
    for name, tensor in learner.tensors.items():
        assert torch.equal(tensor, before[name]), name
        assert torch.equal(tensor.grad, grads[name]), name


def test_meta_training_through_the_solve_improves_the_ridge_fit():
    load_plugin_file(RIDGE)
    learner = make_learner(default_config("ridgefeatures", meta_batch=10))
    batch = learner.family.sample_batch(100, 10, 50, make_generator(11))

    def held_out() -> float:
        prediction = learner.adapt_trajectory(batch.x_support, batch.y_support, batch.x_query, steps=1)[1]
        return (prediction - batch.y_query).pow(2).mean().item()

    before = held_out()
    generator = make_generator(0)
    for _ in range(100):
        learner.meta_train_step(learner.sample_batch(generator))
    assert held_out() < 0.5 * before


def test_checkpoints_record_the_plugin_files_they_need(tmp_path):
    load_plugin_file(RIDGE)
    load_plugin_file(SQUARE)
    cases = [
        (default_config("ridgefeatures"), [str(RIDGE.resolve())]),
        (default_config("maml", family="squarewave"), [str(SQUARE.resolve())]),
        (default_config("ridgefeatures", family="squarewave"), [str(RIDGE.resolve()), str(SQUARE.resolve())]),
        (default_config("maml"), []),
    ]
    for i, (config, files) in enumerate(cases):
        path = save_checkpoint(tmp_path / f"{i}.pt", Trainer(make_learner(config)))
        assert torch.load(path, weights_only=True)["plugins"] == files, config


# --- broken plugins ----------------------------------------------------------------------

BAD_PLUGINS = {
    "syntax": ("def broken(:\n", "SyntaxError"),
    "raises": ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    "not_a_spec": ("{family}LEARNERS = ('maml',)\n", "LearnerSpec"),
    "no_adapt": (
        "{family}"
        "from metaviz.learners.network import NetworkLearner\n"
        "from metaviz.learners import Learner, LearnerSpec\n"
        "class Half(Learner):\n"
        "    init_tensors = NetworkLearner.init_tensors\n"
        "    sample_batch = NetworkLearner.sample_batch\n"
        "    def training_loss(self, batch): ...\n"
        "    def default_adapt_lr(self, shots): return 0.01\n"
        "LEARNERS = (LearnerSpec({learner!r}, 'half', '#123456', Half),)\n",
        "adapt_trajectory",
    ),
    "nothing": ("X = 1\n", "declares no LEARNERS and no FAMILIES"),
    "bad_cost": (
        "{family}"
        "from metaviz.learners.maml import MAML\n"
        "from metaviz.learners import LearnerSpec\n"
        "LEARNERS = (LearnerSpec({learner!r}, 'free', '#123456', MAML, step_ms=0),)\n",
        "step_ms must be a positive number, got 0",
    ),
    "clash": (
        "{family}"
        "from metaviz.learners.maml import MAML\n"
        "from metaviz.learners import LearnerSpec\n"
        "LEARNERS = (LearnerSpec('maml', 'impostor', '#000000', MAML),)\n",
        "learner 'maml' is already declared by metaviz itself",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_PLUGINS))
def test_a_broken_plugin_raises_one_line_naming_the_file_and_adds_nothing(tmp_path, kind):
    load_plugin_file(SQUARE)  # a plugin already loaded must survive too
    source, message = BAD_PLUGINS[kind]
    family, learner = unique(f"fam_{kind}_"), unique(f"lrn_{kind}_")
    path = tmp_path / f"{unique(f'bad_{kind}_')}.py"
    # Where the file gets that far, it also declares a valid family: it must not be added.
    path.write_text(source.format(family=family_source(family), learner=learner))
    learners, families = learner_names(), family_names()

    with pytest.raises(PluginError) as info:
        load_plugin_file(path)
    text = str(info.value)
    assert str(path) in text and message in text and "\n" not in text

    assert learner_names() == learners and family_names() == families  # nothing partial
    assert family not in family_names() and learner not in learner_names()
    assert learner_spec("maml").label == "MAML" and learner_spec("maml").cls is MAML
    built = make_learner(default_config("maml"))
    assert isinstance(built, MAML)
    assert "squarewave" in family_names()
    with pytest.raises(PluginError):  # a failure is not cached as a success
        load_plugin_file(path)


def test_a_plugin_loaded_before_the_builtins_cannot_take_their_names():
    # A fresh registry, as in a new process where a plugin loads before anything asks
    # for the built-ins: the plugin's "maml" must be refused, the built-in one kept.
    fresh = Registry("learner", "LEARNERS", "metaviz.learners", name_of=lambda s: s.name, check=check_spec)
    module = types.ModuleType("impostor")
    module.LEARNERS = (LearnerSpec("maml", "impostor", "#000000", MAML),)
    with pytest.raises(ValueError, match="already declared by metaviz itself"):
        fresh.add_from(module, origin="impostor.py")
    assert fresh.get("maml").label == "MAML" and fresh.origin("maml") is None
    assert {"maml", "fomaml", "pretrained", "multitask"} <= set(fresh.names())


def test_a_file_declaring_one_name_twice_is_refused(tmp_path):
    name = unique("twice_")
    path = tmp_path / f"{name}.py"
    path.write_text(family_source(name) + "FAMILIES = (F, F)\n")
    with pytest.raises(PluginError, match="declared twice"):
        load_plugin_file(path)
    assert name not in FAMILY_REGISTRY.names()


# --- discovery -------------------------------------------------------------------------------

def test_env_var_reports_a_missing_file_and_still_loads_the_good_one(tmp_path):
    name = unique("envfam_")
    good = tmp_path / f"{name}.py"
    good.write_text(family_source(name))
    problems = load_plugins(environ={ENV_VAR: "missing.py" + os.pathsep + str(good)}, entry_points=False)
    assert len(problems) == 1
    assert "missing.py" in problems[0] and "no such file" in problems[0] and ENV_VAR in problems[0]
    assert name in family_names()
    assert make_family(TaskConfig(family=name)).ranges["a"] == (-1.0, 1.0)
    assert load_plugins(environ={ENV_VAR: str(good)}, entry_points=False) == []  # again: nothing new, no error


def test_explicit_files_raise_where_the_env_var_only_warns(tmp_path):
    with pytest.raises(PluginError, match="nowhere.py: no such file"):
        load_plugins([tmp_path / "nowhere.py"], environ={}, entry_points=False)


def test_entry_points_name_a_module_and_a_broken_one_is_a_warning(tmp_path, monkeypatch):
    module = unique("mvz_ep_")
    (tmp_path / f"{module}.py").write_text(family_source(module))
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        importlib.metadata.EntryPoint(name="good", value=module, group=ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint(name="bad", value="mvz_no_such_module_xyz", group=ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [p for p in points if p.group == group])
    problems = load_plugins(environ={})
    assert len(problems) == 1 and "mvz_no_such_module_xyz" in problems[0]
    assert module in family_names()
