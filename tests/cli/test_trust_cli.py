"""Trust (issue 8), the command line in a subprocess: Ctrl-C while torch imports is
honoured, a full disk keeps the good files and the run, hostile checkpoints and huge
numbers are one line, and a diverged run reports the iteration it kept everywhere."""

import json
import os
import pickle
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from metaviz.checkpoint import load_trainer
from tests.helpers import fill_disk, small_disk

ROOT = Path(__file__).resolve().parents[2]
POSIX = pytest.mark.skipif(os.name != "posix", reason="signals, select on pipes and tmpfs are POSIX")


def run(*args, timeout=180, env=None):
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("trained") / "tiny.pt"
    result = run("train", "--iterations", 20, "--meta-batch", 5, "--quiet", "--out", path)
    assert result.returncode == 0, result.stderr
    return path


# --- Ctrl-C in the first seconds ----------------------------------------------------

def _interrupt_when(args, marker, timeout=120):
    """Run ``main.py ARGS`` under ``-X importtime`` (each finished import is a line on
    stderr, as it happens) and send SIGINT when ``marker`` has been imported: a moment
    inside torch's import, found without guessing at time. Returns the return code and
    the stderr lines that are not import timings."""
    process = subprocess.Popen([sys.executable, "-X", "importtime", "main.py", *map(str, args)], cwd=ROOT,
                               stderr=subprocess.PIPE)
    seen = b""
    pattern = re.compile(rb"\|\s+" + re.escape(marker.encode()) + rb"\n")
    try:
        while not pattern.search(seen):
            ready, _, _ = select.select([process.stderr], [], [], timeout)
            assert ready, f"{marker} was not imported within {timeout}s"
            chunk = os.read(process.stderr.fileno(), 1 << 16)
            assert chunk, f"the process ended before importing {marker}: {seen[-2000:]!r}"
            seen += chunk
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = (seen + rest).decode(errors="replace").splitlines()
    return process.returncode, [line for line in lines if not line.startswith("import time:")]


@POSIX
@pytest.mark.parametrize("marker", ["torch._utils", "torch.nn", "torch.functional", "metaviz.checkpoint"])
def test_ctrl_c_while_torch_imports_stops_train_before_anything_is_written(tmp_path, marker):
    out = tmp_path / "run.pt"
    code, lines = _interrupt_when(["train", "--iterations", 100_000, "--quiet", "--out", out], marker)
    assert code == 130, lines
    assert lines == ["metaviz: interrupted before training started; nothing was written"], lines
    assert not out.exists() and list(tmp_path.iterdir()) == []


@POSIX
def test_ctrl_c_while_torch_imports_stops_evaluate_with_one_line(tmp_path, checkpoint):
    report = tmp_path / "e.json"
    code, lines = _interrupt_when(["evaluate", checkpoint, "--tasks", 1_000_000, "--json", report], "torch.nn")
    assert code == 130 and lines == ["metaviz: interrupted"], lines
    assert not report.exists()


@POSIX
def test_ctrl_c_at_once_is_never_ignored(tmp_path):
    """Sent the moment the process exists: it may land before Python runs a line of
    metaviz (Python's own start-up then ends the process), or anywhere after. Either way
    the interrupt wins: nothing is trained, nothing is written."""
    out = tmp_path / "run.pt"
    process = subprocess.Popen([sys.executable, "main.py", "train", "--iterations", "100000", "--quiet", "--out",
                                str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0 and "training maml" not in stderr, stderr
    assert not out.exists()


# --- a full disk ----------------------------------------------------------------------

@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk") as folder:
        yield folder


@POSIX
@pytest.mark.parametrize("room", [0, 4096])
def test_train_on_a_full_disk_keeps_the_old_file_and_the_run_elsewhere(tmp_path, disk, room):
    out = disk / "run.pt"
    assert run("train", "--iterations", 3, "--meta-batch", 5, "--quiet", "--out", out).returncode == 0
    good = out.read_bytes()
    fill_disk(disk, room)
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    result = run("train", "--iterations", 8, "--meta-batch", 5, "--quiet", "--out", out,
                 env={**os.environ, "TMPDIR": str(rescue)})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (rescued,) = rescue.iterdir()
    assert rescued.name.startswith("metaviz-rescued-run-") and rescued.suffix == ".pt"
    assert f"cannot write {out}: No space left on device; the run was saved to {rescued} instead" in result.stderr
    assert f"train --resume {rescued}" in result.stderr
    assert out.read_bytes() == good
    assert load_trainer(rescued).learner.iteration == 8
    assert [p.name for p in disk.iterdir() if p.name.endswith(".tmp")] == []


@POSIX
@pytest.mark.parametrize("room", [0, 4096])
def test_evaluate_json_on_a_full_disk_keeps_the_good_file(disk, checkpoint, room):
    report = disk / "e.json"
    report.write_text('{"good": true}\n')
    fill_disk(disk, room)
    # 300 steps: a report far larger than the room left, so the write fails part of the way
    result = run("evaluate", checkpoint, "--tasks", 20, "--shots", 5, 10, 20, "--steps", 300, "--json", report)
    assert result.returncode == 1
    assert one_line(result.stderr) == f"metaviz: error: cannot write {report}: No space left on device"
    assert json.loads(report.read_text()) == {"good": True}


# --- divergence: the kept iteration, everywhere ----------------------------------------

def test_a_rolled_back_run_reports_and_saves_the_kept_iteration(tmp_path):
    out = tmp_path / "d.pt"
    # No warm-up: the point is a meta lr that overshoots from the first steps on.
    result = run("train", "--iterations", 400, "--meta-lr", 5, "--warmup", 0, "--quiet", "--out", out)
    assert result.returncode == 1, result.stderr
    message = one_line(result.stderr.split("\n", 1)[1])  # after the "training ..." line
    found = re.search(r"^Training diverged at iteration (\d+): .*\. The parameters of iteration (\d+), the last "
                      r"with a sane loss, were kept\. To go on, lower a rate \(inner lr [0-9.e+-]+, meta lr "
                      r"[0-9.e+-]+\) and resume; saved to (.+) \(continue with: train --resume (.+)\)$", message)
    assert found, message
    failed, kept = int(found[1]), int(found[2])
    assert kept < failed - 1  # a step was rolled back: the case the issue met
    assert Path(found[3]) == out
    saved = torch.load(out, weights_only=True)
    assert saved["learner"]["iteration"] == kept == saved["learner"]["optimizer"]["steps"]
    assert len(saved["trainer"]["losses"]) == kept
    resumed = run("train", "--resume", out, "--meta-lr", 0.001, "--iterations", kept + 5, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert load_trainer(out).learner.iteration == kept + 5


def test_evaluate_at_a_diverging_rate_says_all_diverged(checkpoint, tmp_path):
    result = run("evaluate", checkpoint, "--lr", 50, "--tasks", 20, "--shots", 5, "--steps", 3,
                 "--json", tmp_path / "e.json")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("5 "))
    assert "all diverged" in row and "inf" not in row and "nan" not in row, result.stdout
    assert "20 of 20 tasks diverged" in result.stdout


# --- huge numbers name their option ------------------------------------------------------

HUGE = str(10**30)


@pytest.mark.parametrize("args", [
    ["train", "--seed", HUGE], ["train", "--threads", HUGE], ["train", "--shots", HUGE],
    ["train", "--iterations", HUGE], ["train", "--inner-steps", HUGE], ["train", "--meta-batch", HUGE],
    ["evaluate", "x.pt", "--shots", HUGE], ["evaluate", "x.pt", "--steps", HUGE],
    ["evaluate", "x.pt", "--tasks", HUGE], ["evaluate", "x.pt", "--seed", HUGE],
    ["reproduce", "--tasks", HUGE], ["reproduce", "--seed", HUGE], ["bench", "--rounds", HUGE],
    ["train", "--seed", "9" * 5000],  # beyond Python's 4300-digit int parsing limit
    ["train", "--inner-lr", "1e39"], ["evaluate", "x.pt", "--lr", "1e300"], ["bench", "--seconds", "inf"],
])
def test_a_huge_number_is_one_line_naming_its_option(args):
    result = run(*args)
    assert result.returncode == 2
    line = one_line(result.stderr)
    option = next(a for a in args if a.startswith("--"))
    assert f"argument {option}:" in line and "Overflow" not in line and len(line) < 300, line


# --- hostile checkpoints on the command line ---------------------------------------------

class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_code_running_pickle_is_one_line_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "metaviz-checkpoint", "x": _Exploit(marker)}, protocol=protocol))
    result = run("evaluate", evil)
    assert result.returncode == 2
    line = one_line(result.stderr)  # torch's "Detected pickle protocol 4" warning does not leak
    assert "holds code that could run" in line and "was not loaded" in line and "system" in line, line
    assert not marker.exists()


def test_an_expanded_history_is_one_line_naming_the_field(tmp_path, checkpoint):
    payload = torch.load(checkpoint, weights_only=True)
    payload["trainer"]["losses"] = torch.zeros(1, 2, dtype=torch.float64).expand(10**8, 2)  # 1.6 GB, in 16 bytes
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    assert bad.stat().st_size < 64 * 1024
    result = run("train", "--resume", bad, "--quiet")
    assert result.returncode == 2
    assert "trainer.losses is a strided or expanded view" in one_line(result.stderr)
