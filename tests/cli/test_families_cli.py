"""`python main.py` on the new task families: train, evaluate (also across families),
the oracle row, family options, the multimodal reproduce preset. Tiny budgets."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from metaviz.checkpoint import load_trainer

ROOT = Path(__file__).resolve().parents[2]
NEW = ("harmonic", "sinusoid_line", "multimodal3", "multimodal5", "gaussian_process", "step")


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("family", NEW)
def test_train_on_a_family_then_evaluate_it(tmp_path, family):
    checkpoint = tmp_path / f"{family}.pt"
    trained = run("train", "--learner", "maml", "--iterations", 20, "--family", family, "--quiet",
                  "--out", checkpoint)
    assert trained.returncode == 0, trained.stderr
    assert f"training maml on {family}" in trained.stderr
    learner = load_trainer(checkpoint).learner  # the checkpoint records the family; loading restores it
    assert learner.family.name == family and learner.config.task.family == family
    assert {p.name for p in learner.family.parameters} <= set(learner.config.task.to_dict()["ranges"])

    report = tmp_path / "eval.json"
    evaluated = run("evaluate", checkpoint, "--shots", 5, "--steps", 2, "--tasks", 20, "--json", report)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"20 held-out {family} tasks" in evaluated.stdout and "nan" not in evaluated.stdout
    assert json.loads(report.read_text())["task"]["family"] == family


def test_a_learner_trained_on_one_family_is_probed_on_another(tmp_path):
    checkpoint = tmp_path / "lines.pt"
    assert run("train", "--iterations", 20, "--family", "sinusoid_line", "--quiet", "--out", checkpoint).returncode == 0
    report = tmp_path / "probe.json"
    probed = run("evaluate", checkpoint, "--family", "gaussian_process", "--option", "length_scale=0.5",
                 "--shots", 5, "--steps", 1, "--tasks", 20, "--json", report)
    assert probed.returncode == 0, probed.stderr
    assert "probe apart from training" in probed.stdout and "held-out gaussian_process tasks" in probed.stdout
    task = json.loads(report.read_text())["task"]
    assert task["family"] == "gaussian_process" and task["options"]["length_scale"] == 0.5
    assert load_trainer(checkpoint).learner.family.name == "sinusoid_line"  # the checkpoint is untouched


def test_family_options_reach_the_checkpoint(tmp_path):
    checkpoint = tmp_path / "gp.pt"
    trained = run("train", "--iterations", 5, "--family", "gaussian_process", "--option", "variance=2",
                  "--noise", 0.1, "--quiet", "--out", checkpoint)
    assert trained.returncode == 0, trained.stderr
    family = load_trainer(checkpoint).learner.family
    assert family.option_values == {"length_scale": 1.0, "variance": 2.0} and family.noise_std == 0.1


def test_evaluate_the_oracle_alone(tmp_path):
    report = tmp_path / "oracle.json"
    result = run("evaluate", "--oracle", "--family", "gaussian_process", "--noise", 0.1, "--shots", 5, 20,
                 "--steps", 1, "--tasks", 50, "--json", report)
    assert result.returncode == 0, result.stderr
    assert "oracle (best possible) after 0 iterations" in result.stdout  # the GP posterior: exact under noise
    assert "held-out gaussian_process tasks" in result.stdout
    data = json.loads(report.read_text())
    assert data["learner"] == "oracle" and data["task"]["noise_std"] == 0.1
    # the exact posterior: more points, smaller error; below the prior variance (1)
    assert data["curves"]["20"]["mean"][0] < data["curves"]["5"]["mean"][0] < 1.0


@pytest.mark.parametrize(("args", "message"), [
    (["evaluate", "--oracle", "--family", "step"], "the step family has no exact oracle"),
    (["evaluate", "--oracle", "--family", "gaussian_process", "--option", "length_scale=50"],
     "length_scale must be between"),
    (["evaluate", "--oracle", "--option", "width=1"], "the sinusoid family has no option 'width'"),
    (["evaluate", "--oracle", "--option", "width"], "expected NAME=VALUE"),
    (["evaluate", "some.pt", "--oracle"], "not both"),
    (["train", "--family", "multimodal3", "--mode-range", "0.2", "0.8"], "holds no whole number"),
])
def test_bad_family_arguments_are_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_reproduce_the_multimodal_preset(tmp_path):
    out = tmp_path / "multimodal"
    result = run("reproduce", "--preset", "multimodal", "--iterations", 3, "--tasks", 20, "--out", out, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = json.loads((out / "results.json").read_text())
    assert {"maml", "multitask"} <= {row["learner"] for row in rows}
    assert all(row["task"]["family"] == "multimodal3" for row in rows)
    assert "no exact oracle" in result.stderr  # multimodal3 has none: no oracle row, said so
    assert load_trainer(out / "maml.pt").learner.family.name == "multimodal3"


def test_help_documents_the_oracle_the_options_and_the_presets():
    evaluate = run("evaluate", "--help").stdout
    assert "--oracle" in evaluate and "gaussian_process, sinusoid" in evaluate
    assert "length_scale (default 1)" in evaluate
    assert "multimodal" in run("reproduce", "--help").stdout


def test_reproduce_the_zoo_preset_runs_every_registered_learner_beside_the_oracle(tmp_path):
    from metaviz.learners import learner_names

    out = tmp_path / "zoo"
    result = run("reproduce", "--preset", "zoo", "--iterations", 2, "--tasks", 20, "--out", out, timeout=900)
    assert result.returncode == 0, result.stderr
    rows = {row["learner"] for row in json.loads((out / "results.json").read_text())}
    assert rows == set(learner_names()) | {"oracle"}
    assert "| oracle (best possible) | metaviz, 0 it., nothing trained |" in (out / "table.md").read_text()
