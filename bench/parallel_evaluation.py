"""Several trained learners evaluated one after another and in parallel worker processes, in one run.

    .venv/bin/python bench/parallel_evaluation.py [--learners maml multitask pretrained fomaml]
                                                  [--tasks 10000] [--steps 10] [--workers 2] [--rounds 1]

Each learner is trained for a few meta-steps (how well it learned does not change what
its evaluation costs), then the same :class:`~metaviz.jobs.evaluation.EvaluationSpec`
list (K = 5, 10, 20 on ``--tasks`` held-out tasks, ``--steps`` adaptation steps) is run
by :func:`~metaviz.jobs.runs.runs_job` with one worker (here, one torch thread: the
window's job thread) and with ``--workers`` processes (one torch thread each, their
start-up included), and the two wall times and their ratio are printed side by side,
with the 1-minute load average (other work on the machine slows either side). The
results of both ways must be identical, bit for bit; the script says so or exits 1.
Reported, never asserted: this is a benchmark.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def trained_specs(learners: list[str], tasks: int, steps: int) -> list:
    """One evaluation spec per learner, each trained for 20 meta-steps (meta-batch 10)."""
    from metaviz.jobs.evaluation import EvaluationSpec
    from metaviz.learners import default_config, make_learner
    from metaviz.streams import make_generator

    specs = []
    for kind in learners:
        learner = make_learner(default_config(kind, meta_batch=10))
        generator = make_generator(0)
        for _ in range(20):
            learner.meta_train_step(learner.sample_batch(generator))
        specs.append(EvaluationSpec.of(learner, kind, num_tasks=tasks, steps=steps))
    return specs


def timed(specs: list, workers: int) -> tuple[float, list]:
    """Wall seconds of evaluating every spec with ``workers`` processes, and the results."""
    from metaviz.jobs import drain
    from metaviz.jobs.runs import runs_job

    started = time.perf_counter()
    results = drain(runs_job(specs, workers))
    return time.perf_counter() - started, results


def identical(a: list, b: list) -> bool:
    """The same curves, float for float, for every learner and K."""
    return all(x.curves.keys() == y.curves.keys() and all(x.curves[k] == y.curves[k] for k in x.curves)
               for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", nargs="+", default=["maml", "multitask", "pretrained", "fomaml"])
    parser.add_argument("--tasks", type=int, default=10_000, help="held-out tasks per K (default 10000)")
    parser.add_argument("--steps", type=int, default=10, help="adaptation steps (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="processes at once (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="one-after-another/parallel pairs (default 1)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as the window's job thread and every worker
    specs = trained_specs(args.learners, args.tasks, args.steps)
    print(f"{len(specs)} learners ({' '.join(args.learners)}), {args.tasks} tasks x K=5,10,20, {args.steps} steps; "
          f"{os.cpu_count()} cores", flush=True)
    print(f"{'round':>5}  {'one after another s':>19}  {f'{args.workers} processes s':>13}  {'ratio':>5}  "
          f"{'load (1 min)':>12}  identical", flush=True)
    same = True
    for round_ in range(1, args.rounds + 1):
        inline, expected = timed(specs, 1)
        parallel, results = timed(specs, args.workers)
        same = same and identical(expected, results)
        print(f"{round_:>5}  {inline:>19.2f}  {parallel:>13.2f}  {inline / parallel:>5.2f}  "
              f"{os.getloadavg()[0]:>12.2f}  {'yes' if same else 'NO'}", flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
