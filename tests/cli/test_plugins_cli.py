"""Plugins from the command line: `python main.py ...` in a subprocess, on tiny budgets."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RIDGE = "resources/plugins/linear_features.py"
SQUARE = "resources/plugins/square_wave.py"


def run(*args, env=None, timeout=120):
    environ = {k: v for k, v in os.environ.items() if k != "METAVIZ_PLUGINS"}
    environ.update({"QT_QPA_PLATFORM": "offscreen", **(env or {})})
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environ)


def one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_plugin_learner_trains_and_its_checkpoint_evaluates_with_the_plugin(tmp_path):
    checkpoint = tmp_path / "r.pt"
    trained = run("train", "--plugin", RIDGE, "--learner", "ridgefeatures", "--iterations", 20, "--out", checkpoint,
                  "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert "training ridgefeatures on sinusoid for 20 iterations" in trained.stderr

    # A checkpoint never imports the plugin it names (it could run code): without the
    # flag it says which file to pass; with it, it evaluates.
    one_line_error(run("evaluate", checkpoint, "--tasks", 20), "ridgefeatures", "--plugin", RIDGE)
    evaluated = run("evaluate", checkpoint, "--tasks", 20, "--steps", 5, "--plugin", RIDGE)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "ridgefeatures after 20 iterations" in evaluated.stdout and "step 5" in evaluated.stdout
    curves = json.loads(checkpoint.with_suffix(".eval.json").read_text())["curves"]
    for curve in curves.values():  # zero head, then the ridge fit: flat after one step
        mean = curve["mean"]
        assert mean[1] == mean[2] == mean[5] != mean[0]
    assert curves["20"]["mean"][1] < curves["20"]["mean"][0]  # 20 points fit even after 20 iterations


def test_plugin_family_trains_a_builtin_learner_and_evaluates_on_it(tmp_path):
    checkpoint = tmp_path / "s.pt"
    trained = run("train", "--plugin", SQUARE, "--learner", "maml", "--family", "squarewave", "--iterations", 20,
                  "--meta-batch", 5, "--out", checkpoint, "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert "training maml on squarewave" in trained.stderr

    evaluated = run("evaluate", checkpoint, "--tasks", 20, "--steps", 2, "--plugin", SQUARE)
    assert evaluated.returncode == 0, evaluated.stderr
    table = evaluated.stdout.splitlines()[0]
    assert table.startswith("maml after 20 iterations") and "held-out squarewave tasks" in table
    assert json.loads(checkpoint.with_suffix(".eval.json").read_text())["task"]["family"] == "squarewave"


def test_a_checkpoint_whose_plugin_moved_says_so_in_one_line(tmp_path):
    plugin = tmp_path / "my_ridge.py"
    shutil.copy(ROOT / RIDGE, plugin)
    checkpoint = tmp_path / "m.pt"
    assert run("train", "--plugin", plugin, "--learner", "ridgefeatures", "--iterations", 3, "--out", checkpoint,
               "--quiet").returncode == 0
    moved = tmp_path / "elsewhere" / "my_ridge.py"
    moved.parent.mkdir()
    plugin.rename(moved)

    result = run("evaluate", checkpoint, "--tasks", 10)
    one_line_error(result, "ridgefeatures", "--plugin", str(plugin))
    found = run("evaluate", checkpoint, "--tasks", 10, "--steps", 1, "--plugin", moved)  # the hint works
    assert found.returncode == 0, found.stderr
    assert "ridgefeatures after 3 iterations" in found.stdout


def test_the_env_var_adds_choices_and_a_missing_file_there_is_only_a_warning():
    listed = run("train", "--help", env={"METAVIZ_PLUGINS": RIDGE})
    assert listed.returncode == 0, listed.stderr
    assert "ridgefeatures" in listed.stdout and "ridge on learned features (plugin)" in listed.stdout
    assert run("train", "--help").stdout.count("ridgefeatures") == 0  # only when asked for

    both = run("train", "--help", env={"METAVIZ_PLUGINS": os.pathsep.join(["gone.py", SQUARE])})
    assert both.returncode == 0, both.stderr
    assert "squarewave" in both.stdout
    warnings = both.stderr.strip().splitlines()
    assert len(warnings) == 1 and "warning" in warnings[0] and "gone.py" in warnings[0]


def test_a_missing_plugin_file_is_one_line_and_exit_2():
    one_line_error(run("train", "--plugin", "nonexistent.py", "--iterations", 1), "nonexistent.py", "no such file")
    one_line_error(run("--plugin", "nonexistent.py", "train"), "nonexistent.py")


def test_a_plugin_that_takes_a_builtin_name_is_refused_and_nothing_runs(tmp_path):
    # In a fresh process the plugin loads before the built-ins are listed: it must still
    # be refused, with one line, rather than replace MAML or break every command.
    impostor = tmp_path / "impostor.py"
    impostor.write_text("from metaviz.learners.maml import MAML\nfrom metaviz.learners import LearnerSpec\n"
                        "LEARNERS = (LearnerSpec('maml', 'impostor', '#000000', MAML),)\n")
    one_line_error(run("--plugin", impostor, "train", "--help"), str(impostor), "already declared by metaviz itself")
    warned = run("train", "--help", env={"METAVIZ_PLUGINS": str(impostor)})
    assert warned.returncode == 0 and "impostor" in warned.stderr and "maml: MAML" in warned.stdout
