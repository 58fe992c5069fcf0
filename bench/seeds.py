"""Does a learner's default budget reproduce the paper on every seed? Train seeds 0-9, score each.

    .venv/bin/python bench/seeds.py [--learner maml] [--seeds 0 1 ... 9] [--workers 2]
                                    [--set meta_lr=0.01 iterations=9000 ...] [--out runs/seeds] [--json FILE]

Trains one run per seed (in ``--workers`` processes, one torch thread each, as
``train --seeds`` does), evaluates each on the protocol of PROTOCOL.md (600 held-out
tasks, evaluation seed 20170703, K = 5, 10, 20, 100 query points) and prints one row per
seed: training seconds as measured, the 1-minute load average when the run ended (other
work on the machine inflates the seconds), and the MSE the paper's MAML figures are
judged by, each marked where it misses the target (K=5: <= 0.67 after 1 step and
<= 0.35 after 10; K=10: <= 0.43 after 1). Reported, never asserted: this is a benchmark.
``--set NAME=VALUE`` changes any :class:`~metaviz.config.TrainConfig` field from the
learner's defaults (numbers as numbers; ``hidden=40,40``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (K, steps) -> the most MSE that still reproduces the paper (PROTOCOL.md, "Our targets").
TARGETS = {(5, 1): 0.67, (5, 10): 0.35, (10, 1): 0.43}
COLUMNS = ((5, 1), (5, 10), (10, 1), (20, 1))


def parse_changes(pairs: list[str]) -> dict:
    """``["meta_lr=0.02", "hidden=40,40"]`` -> ``{"meta_lr": 0.02, "hidden": (40, 40)}``."""
    changes = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--set takes NAME=VALUE, got {pair!r}")
        if "," in text:
            changes[name] = tuple(int(part) for part in text.split(","))
            continue
        try:
            changes[name] = int(text)
        except ValueError:
            try:
                changes[name] = float(text)
            except ValueError:
                changes[name] = text
    return changes


def run(learner: str, seeds: list[int], workers: int, changes: dict, out: Path, tasks: int) -> list[dict]:
    """Train and evaluate every seed; one row (a dict) per seed, in ``seeds``' order."""
    from metaviz.jobs import Log, Result
    from metaviz.jobs.runs import RunSpec, runs_job
    from metaviz.learners import default_config

    out.mkdir(parents=True, exist_ok=True)
    specs = [RunSpec(default_config(learner, seed=seed, **changes), out / f"{learner}-seed{seed}.pt",
                     evaluate={"shots": (5, 10, 20), "num_tasks": tasks}, name=f"seed{seed}")
             for seed in seeds]
    loads: dict[str, float] = {}  # the 1-minute load average when each run's checkpoint was written
    outcomes = None
    for event in runs_job(specs, workers):
        if isinstance(event, Log) and event.text.startswith("wrote "):
            loads[Path(event.text.split()[1]).name] = os.getloadavg()[0]
        elif isinstance(event, Result):
            outcomes = event.value
    rows = []
    for seed, spec, outcome in zip(seeds, specs, outcomes):
        row = {"seed": seed, "iterations": outcome.iterations, "train_seconds": outcome.train_seconds,
               "load": loads.get(spec.checkpoint.name), "diverged": outcome.diverged}
        if outcome.result is not None:
            curves = outcome.result.curves
            row["mse"] = {f"{k}/{s}": curves[k].mean[s] for k, s in COLUMNS}
            row["diverged_tasks"] = {f"{k}/{s}": curves[k].diverged[s] for k, s in COLUMNS}
        rows.append(row)
    return rows


def misses(row: dict) -> list[str]:
    """The targets this row misses (a run that diverged misses all of them)."""
    if "mse" not in row:
        return [f"K={k}/{s}" for k, s in TARGETS]
    return [f"K={k}/{s}" for (k, s), bound in TARGETS.items() if not row["mse"][f"{k}/{s}"] <= bound]


def table(rows: list[dict]) -> str:
    """A markdown table, one row per seed, then the worst of each column."""
    head = ["seed", "training s", "load (1 min)"] + [f"K={k}, {s} step{'s' * (s > 1)}" for k, s in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row["seed"]), f"{row['train_seconds']:.1f}",
                 "-" if row["load"] is None else f"{row['load']:.2f}"]
        for k, s in COLUMNS:
            if "mse" not in row:
                cells.append("diverged")
                continue
            value, bound = row["mse"][f"{k}/{s}"], TARGETS.get((k, s))
            text = f"{value:.3f}" + (" (miss)" if bound is not None and not value <= bound else "")
            lost = row["diverged_tasks"][f"{k}/{s}"]
            cells.append(text + (f" [{lost} diverged]" if lost else ""))
        lines.append("| " + " | ".join(cells) + " |")
    scored = [row for row in rows if "mse" in row]
    if scored:
        worst = [max(row["mse"][f"{k}/{s}"] for row in scored) for k, s in COLUMNS]
        seconds = [row["train_seconds"] for row in rows]
        lines.append("| worst | " + f"{max(seconds):.1f} | | " + " | ".join(f"{w:.3f}" for w in worst) + " |")
    passed = sum(not misses(row) for row in rows)
    lines.append(f"\n{passed} of {len(rows)} seeds meet every target "
                 f"(K=5: <= 0.67 after 1 step, <= 0.35 after 10; K=10: <= 0.43 after 1)")
    for row in rows:
        if misses(row):
            lines.append(f"  seed {row['seed']} misses {', '.join(misses(row))}"
                         + (f" (training diverged: {row['diverged']})" if row["diverged"] else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learner", default="maml")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--workers", type=int, default=2, help="processes at once (default 2)")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="TrainConfig changes")
    parser.add_argument("--tasks", type=int, default=600, help="held-out tasks (default 600)")
    parser.add_argument("--out", type=Path, default=Path("runs/seeds"), help="checkpoint folder")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        changes = parse_changes(args.set)
        from metaviz.learners import default_config

        config = default_config(args.learner, **changes)  # one clear line for a bad setting, before any work
    except ValueError as exc:
        parser.error(str(exc))
    print(f"{args.learner}: {config.iterations} iterations, meta lr {config.meta_lr:g} -> x{config.final_lr_fraction:g}"
          f" (cosine), meta-batch {config.meta_batch}, K={config.shots} + {config.query} query; seeds "
          f"{' '.join(map(str, args.seeds))} in {args.workers} process(es); load {os.getloadavg()[0]:.2f}",
          flush=True)
    started = time.perf_counter()
    rows = run(args.learner, args.seeds, args.workers, changes, args.out, args.tasks)
    print(table(rows))
    print(f"wall {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        from metaviz.files import write_atomic

        write_atomic(args.json, json.dumps({"config": config.to_dict(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
