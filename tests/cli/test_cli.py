"""`python main.py ...` in a subprocess, on tiny budgets."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_train_then_evaluate_end_to_end(tmp_path):
    checkpoint = tmp_path / "tiny.pt"
    trained = run("train", "--learner", "fomaml", "--iterations", 40, "--seed", 3, "--meta-batch", 5,
                  "--inner-steps", 2, "--shots", 5, "--out", checkpoint)
    assert trained.returncode == 0, trained.stderr
    assert "40/40" in trained.stderr and "it/s" in trained.stderr and "saved" in trained.stderr
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["kind"] == "fomaml" and payload["learner"]["iteration"] == 40
    assert payload["config"]["inner_steps"] == 2 and payload["config"]["shots"] == 5

    report = tmp_path / "eval.json"
    evaluated = run("evaluate", checkpoint, "--shots", 5, 10, "--steps", 3, "--tasks", 50, "--json", report)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "step 0" in evaluated.stdout and "step 3" in evaluated.stdout and "nan" not in evaluated.stdout
    data = json.loads(report.read_text())
    assert data["learner"] == "fomaml" and data["num_tasks"] == 50
    assert set(data["curves"]) == {"5", "10"}
    assert len(data["curves"]["5"]["mean"]) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--learner", "reptile"], "invalid choice"),
        (["train", "--inner-lr", "nan"], "finite number"),
        (["train", "--iterations", "0"], ">= 1"),
        (["evaluate"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_evaluating_a_corrupt_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("hello")
    result = run("evaluate", bad)
    assert result.returncode == 2
    assert "not a readable checkpoint" in result.stderr and "Traceback" not in result.stderr


def test_interrupting_training_saves_a_resumable_checkpoint(tmp_path):
    import signal
    import time

    checkpoint = tmp_path / "long.pt"
    process = subprocess.Popen([sys.executable, "main.py", "train", "--iterations", "100000", "--out",
                                str(checkpoint)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted at iteration" in stderr and "--resume" in stderr
    payload = torch.load(checkpoint, weights_only=True)
    done = payload["learner"]["iteration"]
    assert 0 < done < 100000
    resumed = run("train", "--resume", checkpoint, "--iterations", done + 5, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert torch.load(checkpoint, weights_only=True)["learner"]["iteration"] == done + 5
