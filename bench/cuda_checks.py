"""The checks that need a CUDA device, as one script for a GPU machine (issue 11).

    python bench/cuda_checks.py [probe] [cli] [bench]

- probe: every registered learner trained 5 meta-steps on the CPU and on CUDA from the
  same seed (those whose ``devices`` lack "cuda" are tried anyway, to learn which could
  list it): the largest parameter difference, and whether adaptation and the predictive
  answer on the CPU;
- cli: ``train --device cuda`` with the defaults (seed 0) and ``evaluate --device
  cuda``, beside the same on the CPU, with wall times;
- bench: ``python main.py bench --device auto`` rows: this machine's CPU at meta-batch
  25, width 40, and CUDA at meta-batch 25 and 1,000, widths 40 and 512, kernel by
  kernel and as a CUDA graph.

The CUDA tests of the suite (tests/core/test_device.py, test_explorer_device.py,
test_maml_graph.py) run beside it with pytest. The figures go to README's Speed section with the machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metaviz.learners import default_config, learner_names, learner_spec, make_learner  # noqa: E402
from metaviz.streams import make_generator  # noqa: E402

SMALL = {"meta_batch": 5, "seed": 2, "pool_size": 10}


def _trained(kind: str, device: str):
    learner = make_learner(default_config(kind, **SMALL))
    type(learner).devices = ("cpu", "cuda")  # tried anyway: this process only
    learner.to(device)
    generator = make_generator(2)
    for _ in range(5):
        learner.meta_train_step(learner.sample_batch(generator))
    return learner


def probe() -> None:
    print("\n== probe: 5 meta-steps on cpu and cuda from one seed ==")
    for kind in learner_names():
        listed = "cuda" in learner_spec(kind).cls.devices
        try:
            cpu, gpu = _trained(kind, "cpu"), _trained(kind, "cuda")
            gap = (gpu._flat.cpu() - cpu._flat).abs().max().item()
            batch = cpu.family.sample_batch(4, 5, 7, make_generator(9))
            points = (batch.x_support, batch.y_support, batch.x_query)
            adapted = gpu.adapt_trajectory(*points, 3)
            answer = (adapted - cpu.adapt_trajectory(*points, 3)).abs().max().item()
            where = adapted.device.type
            if gpu.has_predictive:
                mean, std = gpu.predictive(*points)
                where += f"/{mean.device.type}"
            print(f"{kind:<11} listed={listed!s:<5} OK   params {gap:.1e}  adapted {answer:.1e}  answers on {where}")
        except Exception as exc:  # noqa: BLE001 - a probe reports every learner
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"{kind:<11} listed={listed!s:<5} FAIL {type(exc).__name__}: {line[:150]}")


def _timed(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    tail = (done.stdout + done.stderr).strip().splitlines()
    print(f"$ main.py {' '.join(args)}  -> exit {done.returncode}, {elapsed:.1f}s wall")
    for line in tail[-14:]:
        print(f"    {line}")
    return elapsed


def cli() -> None:
    print("\n== cli: default MAML, seed 0, on cuda and on cpu ==")
    folder = Path(tempfile.mkdtemp())
    for device in ("cuda", "cpu"):
        out = folder / f"{device}.pt"
        _timed("train", "--device", device, "--seed", "0", "--quiet", "--out", str(out))
        _timed("evaluate", str(out), "--device", device)


def bench() -> None:
    print("\n== bench (eager) ==")
    done = subprocess.run([sys.executable, "main.py", "bench", "--device", "auto", "--no-compile", "--seconds", "1",
                           "--rounds", "3"], cwd=ROOT, capture_output=True, text=True)
    print(done.stdout + done.stderr)


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA'}")
    for name in sys.argv[1:] or ["probe", "cli", "bench"]:
        globals()[name]()
