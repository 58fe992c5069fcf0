"""The compiled meta-step (``train --compile``) against the eager hand-derived one; without
a compiler metaviz says so in one line and trains eagerly; the training process never
imports the compiler (the window's memory target)."""

import dataclasses
import subprocess
import sys

import pytest
import torch

from metaviz.compiled import CompiledStep, compiler_problem, use_compiled
from metaviz.learners import default_config, make_learner
from metaviz.learners.maml_grad import flat_meta_gradient
from metaviz.streams import make_generator

SMALL = {"hidden": (8, 8), "meta_batch": 4, "inner_steps": 2, "seed": 5}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("cache")
    patch.setenv("XDG_CACHE_HOME", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="module")
def compiled_learner(cache):
    """A MAML learner whose compiled step was built by the background process (waited for
    by its exit, not by a clock) into a temporary cache folder."""
    if compiler_problem() is not None:
        pytest.skip(f"cannot compile here: {compiler_problem()}")
    learner = make_learner(default_config("maml", **SMALL))
    message = use_compiled(learner)
    assert "compiling the meta-step in a background process" in message
    assert learner.compiled.function() is None or learner.compiled.from_cache
    assert learner.compiled.wait(), learner.compiled.error
    return learner


def _close(a, b, tolerance):
    assert (a - b).abs().max().item() <= tolerance * (1 + b.abs().max().item())


def test_the_compiled_function_equals_the_eager_one_at_any_rate(compiled_learner):
    batch = compiled_learner.sample_batch(make_generator(11))
    shapes = tuple(tuple(p.shape) for p in compiled_learner.params)
    function = compiled_learner.compiled.function()
    points = (batch.x_support, batch.y_support, batch.x_query, batch.y_query)
    for rate in (0.01, 0.037):
        stats, gradient = function(compiled_learner._flat, *points, torch.tensor(rate))
        with torch.no_grad():
            eager_stats, eager_gradient = flat_meta_gradient(compiled_learner._flat, shapes, *points, rate, 2, False)
        assert gradient.abs().max().item() > 1e-3
        _close(gradient, eager_gradient, 1e-5)
        _close(stats, eager_stats, 1e-6)


def test_training_on_the_compiled_step_follows_the_eager_step(compiled_learner):
    eager = make_learner(default_config("maml", **SMALL))
    eager.load_state_dict(compiled_learner.state_dict())
    generator_a, generator_b = make_generator(3), make_generator(3)
    for _ in range(10):
        ours = compiled_learner.meta_train_step(compiled_learner.sample_batch(generator_a))
        theirs = eager.meta_train_step(eager.sample_batch(generator_b))
        assert set(ours) == {"loss", "pre_loss"}
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
        assert ours["pre_loss"] == pytest.approx(theirs["pre_loss"], rel=1e-4)
    assert compiled_learner.compiled.first_iteration == 1
    _close(compiled_learner._flat, eager._flat, 1e-4)


def test_a_batch_of_other_shapes_takes_the_eager_step(compiled_learner):
    """A package is specialised to its shapes: it must never see others."""
    calls = []
    function = compiled_learner.compiled._function
    compiled_learner.compiled._function = lambda *a: calls.append(1) or function(*a)
    try:
        other = compiled_learner.family.sample_batch(3, 5, 7, make_generator(1))
        compiled_learner.meta_train_step(other)
        assert calls == []
        compiled_learner.meta_train_step(compiled_learner.sample_batch(make_generator(2)))
        assert calls == [1]
    finally:
        compiled_learner.compiled._function = function


def test_a_second_run_loads_the_package_from_the_cache(compiled_learner):
    learner = make_learner(default_config("maml", **dict(SMALL, seed=9)))
    message = use_compiled(learner)
    assert message.startswith("compiled meta-step loaded from") and learner.compiled.from_cache
    assert learner.compiled.function() is not None


def test_a_failed_build_is_one_line_and_training_stays_eager(cache):
    if compiler_problem() is not None:
        pytest.skip(f"cannot compile here: {compiler_problem()}")
    learner = make_learner(default_config("maml", **SMALL))
    broken = dataclasses.replace(learner.step_spec(), dtype="no_such_dtype")
    step = CompiledStep(broken)
    assert not step.wait()
    assert step.error.startswith("compiling the meta-step failed (AttributeError") and "\n" not in step.error
    learner.compiled = step
    learner.meta_train_step(learner.sample_batch(make_generator(0)))
    assert learner.iteration == 1


def test_without_a_compiler_metaviz_says_so_in_one_line_and_trains_eagerly(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    learner = make_learner(default_config("maml", **SMALL))
    message = use_compiled(learner)
    assert "no C++ compiler" in message and "\n" not in message
    assert learner.compiled is None
    learner.meta_train_step(learner.sample_batch(make_generator(0)))
    assert learner.iteration == 1


def test_compiling_applies_to_maml_only():
    learner = make_learner(default_config("pretrained", meta_batch=4))
    message = use_compiled(learner)
    assert "pretrained trains eagerly" in message and not hasattr(learner, "compiled")


def test_training_never_imports_the_compiler():
    """torch._dynamo and inductor cost ~80-150 MB: a training process never imports them."""
    code = ("import sys; from metaviz.learners import default_config, make_learner; "
            "from metaviz.jobs.training import Trainer; from metaviz.streams import make_generator\n"
            "for kind in ('maml', 'fomaml'):\n"
            "    learner = make_learner(default_config(kind, meta_batch=3, eval_tasks=2)); g = make_generator(0)\n"
            "    [learner.meta_train_step(learner.sample_batch(g)) for _ in range(3)]\n"
            "    Trainer(learner).validate()\n"
            "bad = [m for m in ('torch._dynamo', 'torch._inductor', 'metaviz.compiled') if m in sys.modules]\n"
            "assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
