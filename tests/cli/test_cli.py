"""`python main.py ...` in a subprocess, on tiny budgets."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from metaviz.checkpoint import load_trainer

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
    assert load_trainer(checkpoint).learner.first_order

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
        (["train", "--learner", "nosuchlearner"], "invalid choice"),
        (["train", "--inner-lr", "nan"], "expected a rate"),
        (["train", "--inner-lr", "1000"], "expected a rate in (0, 100]"),
        (["train", "--iterations", "0"], "iterations must be between 1 and"),
        (["train", "--seed", str(10**30)], "seed must be between 0 and 2,147,483,647"),
        (["train", "--family", "tangent"], "invalid choice"),
        (["train", "--noise", "-1"], "standard deviation"),
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


def test_an_unusable_out_is_refused_before_training(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    started = time.perf_counter()
    # A budget that would take minutes: the refusal must come first.
    result = run("train", "--iterations", 1_000_000, "--out", folder, timeout=60)
    assert result.returncode != 0 and "it is a folder" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "training maml" not in result.stderr
    assert list(folder.iterdir()) == [] and time.perf_counter() - started < 60


def _read_until(stream, marker, timeout):
    """Bytes from ``stream`` until ``marker`` has appeared (the progress bar has no newline)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} within {timeout}s; stderr so far: {seen!r}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, f"the process ended before {marker!r}: {seen!r}"
            seen += chunk
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT and select on pipes are POSIX")
def test_interrupting_training_saves_a_checkpoint_that_resumes_exactly(tmp_path):
    checkpoint = tmp_path / "long.pt"
    budget = 2000  # a few seconds: long enough to interrupt, short enough to finish after
    process = subprocess.Popen([sys.executable, "main.py", "train", "--iterations", str(budget), "--out",
                                str(checkpoint)], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        # The bar is drawn after the first meta-step, inside the loop that handles Ctrl-C.
        head = _read_until(process.stderr, b"it/s", timeout=60)
        assert f"training maml on sinusoid for {budget} iterations".encode() in head
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = (head + rest).decode()
    assert process.returncode == 130, stderr
    assert "interrupted at iteration" in stderr and "--resume" in stderr
    trainer = load_trainer(checkpoint)  # saved and loadable
    done = trainer.learner.iteration
    assert 0 < done < budget and f"interrupted at iteration {done}" in stderr
    assert len(trainer.losses) == done and trainer.budget == budget  # history and parameters agree

    resumed = run("train", "--resume", checkpoint, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    straight = run("train", "--iterations", budget, "--quiet", "--out", tmp_path / "straight.pt")
    assert straight.returncode == 0, straight.stderr
    a, b = load_trainer(checkpoint), load_trainer(tmp_path / "straight.pt")
    assert a.learner.iteration == b.learner.iteration == budget
    assert a.losses == b.losses
    for name, tensor in b.learner.tensors.items():
        assert torch.equal(a.learner.tensors[name], tensor), name


def test_resume_honours_new_rates(tmp_path):
    checkpoint = tmp_path / "r.pt"
    assert run("train", "--iterations", 5, "--meta-batch", 2, "--out", checkpoint, "--quiet").returncode == 0
    assert torch.load(checkpoint, weights_only=True)["learner"]["inner_lr"] == 0.01
    resumed = run("train", "--resume", checkpoint, "--iterations", 8, "--inner-lr", 0.02, "--meta-lr", 0.003,
                  "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    state = torch.load(checkpoint, weights_only=True)["learner"]
    assert state["iteration"] == 8 and state["inner_lr"] == 0.02
    assert 0 < state["meta_lr"] <= 0.003  # the new base rate, cosine-scheduled
    kept = run("train", "--resume", checkpoint, "--iterations", 9, "--quiet")  # no rate given: the run's own
    assert kept.returncode == 0, kept.stderr
    assert torch.load(checkpoint, weights_only=True)["learner"]["inner_lr"] == 0.02


def test_task_options_reach_the_checkpoint(tmp_path):
    checkpoint = tmp_path / "t.pt"
    result = run("train", "--iterations", 3, "--meta-batch", 2, "--family", "sinusoid", "--amp-range", 1, 2,
                 "--noise", 0.25, "--out", checkpoint, "--quiet")
    assert result.returncode == 0, result.stderr
    task = torch.load(checkpoint, weights_only=True)["config"]["task"]
    assert task == {"family": "sinusoid", "noise_std": 0.25,
                    "ranges": {"amp": [1.0, 2.0], "phase": [0.0, 3.141592653589793], "x": [-5.0, 5.0]}}


def test_out_of_distribution_probe_uses_the_given_ranges(tmp_path):
    checkpoint = tmp_path / "m.pt"
    assert run("train", "--iterations", 20, "--meta-batch", 5, "--out", checkpoint, "--quiet").returncode == 0
    plain = run("evaluate", checkpoint, "--tasks", 40, "--steps", 1, "--shots", 5, "--json", tmp_path / "in.json")
    assert plain.returncode == 0, plain.stderr
    inside = json.loads((tmp_path / "in.json").read_text())
    assert inside["task"]["ranges"]["amp"] == [0.1, 5.0]
    probe = run("evaluate", checkpoint, "--tasks", 40, "--steps", 1, "--shots", 5, "--amp-range", 5, 10,
                "--x-range", -10, 10, "--json", tmp_path / "out.json")
    assert probe.returncode == 0 and "probe apart from training" in probe.stdout, probe.stderr
    outside = json.loads((tmp_path / "out.json").read_text())
    assert outside["task"]["ranges"]["amp"] == [5.0, 10.0] and outside["task"]["ranges"]["x"] == [-10.0, 10.0]
    # Amplitudes of 5-10 make predicting the untrained mean far worse than amplitudes of 0.1-5.
    assert outside["curves"]["5"]["mean"][0] > 3 * inside["curves"]["5"]["mean"][0]
    reversed_range = run("evaluate", checkpoint, "--amp-range", 5, 1)
    assert reversed_range.returncode == 2 and "amp range is empty or reversed" in reversed_range.stderr


def test_reproduce_writes_checkpoints_and_a_table_beside_the_paper(tmp_path):
    out = tmp_path / "repro"
    result = run("reproduce", "--out", out, "--iterations", 15, "--tasks", 20, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.pt")) == ["maml.pt", "multitask.pt", "pretrained.pt"]
    table = (out / "table.md").read_text()
    assert table == result.stdout[: len(table)]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:4]] == ["| maml", "| pretrained", "| multitask"]
    assert "Finn et al. 2017" in table and "| 0.67 |" in table
    data = json.loads((out / "results.json").read_text())
    assert [d["learner"] for d in data] == ["maml", "pretrained", "multitask"]
    assert all(d["iteration"] == 15 and d["num_tasks"] == 20 for d in data)
    # The multi-task model has a predictive distribution: its NLL and coverage columns follow.
    assert (out / "curves.csv").read_text().startswith(
        "learner,K,step,mean,ci95,median,diverged,nll,nll_ci95,coverage,coverage_ci95\n")
