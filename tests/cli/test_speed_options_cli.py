"""--device and --compile on the command line: one clear line when they cannot apply."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")


def run(*args, env=None, timeout=180):
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


@NO_CUDA
def test_train_and_evaluate_on_cuda_without_one_fail_in_one_line(tmp_path):
    out = tmp_path / "run.pt"
    refused = run("train", "--device", "cuda", "--iterations", 3, "--out", out)
    assert refused.returncode == 2 and not out.exists()
    assert refused.stderr.strip().splitlines() == [
        "metaviz: error: device: cuda was asked for, but torch finds no CUDA device here"]
    trained = run("train", "--device", "cpu", "--iterations", 3, "--meta-batch", 3, "--quiet", "--out", out)
    assert trained.returncode == 0, trained.stderr
    evaluated = run("evaluate", out, "--device", "cuda", "--tasks", 4, "--shots", 5, "--steps", 1)
    assert evaluated.returncode == 2
    assert evaluated.stderr.strip().splitlines()[-1].endswith("no CUDA device here")
    window = run("--device", "cuda", env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert window.returncode == 2  # before any window opens
    assert window.stderr.strip().splitlines() == [
        "metaviz: error: device: cuda was asked for, but torch finds no CUDA device here"]


def test_compile_without_a_compiler_says_so_and_trains(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("CXX", None)
    out = tmp_path / "run.pt"
    done = run("train", "--compile", "--iterations", 5, "--meta-batch", 3, "--quiet", "--out", out, env=env)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "compiler" in line]
    assert lines == ["metaviz: no C++ compiler found (g++, clang++ or $CXX): the meta-step runs eagerly, uncompiled"]
    assert out.exists() and not (tmp_path / "cache").exists()


def test_bench_sizes_are_bounded():
    refused = run("bench", "--sizes", "0x40")
    assert refused.returncode == 2 and "meta batch must be between 1 and 10,000" in refused.stderr
    refused = run("bench", "--sizes", "25x5000")
    assert refused.returncode == 2 and "width must be between 1 and 1,024" in refused.stderr
    refused = run("bench", "--sizes", "2000x512")
    assert refused.returncode == 2 and "must be at most 1000 x 512^2" in refused.stderr
