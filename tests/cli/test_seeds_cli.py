"""``train --seeds``: one run per seed in worker processes, one checkpoint each."""

import subprocess
import sys
from pathlib import Path

from metaviz.checkpoint import load_trainer

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_train_seeds_writes_one_checkpoint_per_seed(tmp_path):
    result = run("train", "--seeds", 3, 4, "--iterations", 20, "--meta-batch", 5, "--out", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "in 2 process(es)" in result.stderr
    for seed in (3, 4):
        trainer = load_trainer(tmp_path / f"maml-seed{seed}.pt")
        assert trainer.learner.config.seed == seed and trainer.learner.iteration == 20
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["3", "20"], ["4", "20"]]


def test_train_seeds_refuses_a_file_as_folder_and_resume(tmp_path):
    file = tmp_path / "f.pt"
    file.write_bytes(b"x")
    result = run("train", "--seeds", 0, 1, "--out", file)
    assert result.returncode == 2 and "names a folder" in result.stderr and "Traceback" not in result.stderr
    result = run("train", "--seeds", 0, 1, "--resume", file)
    assert result.returncode == 2 and "--resume" in result.stderr


def test_runs_in_this_process_take_threads_like_train(tmp_path):
    """--workers 1 is the runs one after another at train's settings: --threads (default 1)
    holds for them as for train (before, they ran on torch's default, every core)."""
    import torch

    from metaviz import commands
    from metaviz.cli import build_parser

    for threads in (2, 1):
        args = build_parser().parse_args(["train", "--seeds", "5", "--workers", "1", "--iterations", "3",
                                          "--meta-batch", "3", "--threads", str(threads), "--quiet",
                                          "--out", str(tmp_path / str(threads))])
        assert commands.train(args) == 0
        assert torch.get_num_threads() == threads
