"""The headless ``train`` and ``evaluate`` commands (argument parsing lives in :mod:`.cli`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TextIO

import torch

from .checkpoint import load_trainer, save_checkpoint
from .cli import probe_task
from .config import default_config
from .evaluation import EVAL_SEED, format_table
from .evaluation import evaluate as run_protocol
from .learners.base import DivergedError, make_learner
from .reproduce import reproduce as run_reproduction
from .training import Snapshot, TrainControl, Trainer


class ProgressBar:
    """One self-rewriting line: iteration, it/s, loss, ETA; at most ~10 redraws a second."""

    def __init__(self, stream: TextIO, width: int = 24) -> None:
        self.stream = stream
        self.width = width
        self.last_draw = 0.0
        self.started = time.perf_counter()
        self.first_iteration: int | None = None

    def update(self, snapshot: Snapshot, force: bool = False) -> None:
        now = time.perf_counter()
        if self.first_iteration is None:
            self.first_iteration = snapshot.iteration - 1
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        rate = (snapshot.iteration - self.first_iteration) / max(now - self.started, 1e-9)
        left = snapshot.budget - snapshot.iteration
        filled = int(self.width * snapshot.iteration / max(snapshot.budget, 1))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\r[{bar}] {snapshot.iteration}/{snapshot.budget}  {rate:6.0f} it/s  "
            f"loss {snapshot.loss:8.4f}  ETA {left / max(rate, 1e-9):5.0f}s "
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _config_from_args(args: argparse.Namespace):
    overrides = {
        "iterations": args.iterations,
        "seed": args.seed,
        "inner_lr": args.inner_lr,
        "meta_lr": args.meta_lr,
        "inner_steps": args.inner_steps,
        "meta_batch": args.meta_batch,
        "shots": args.shots,
    }
    return default_config(args.learner, **{k: v for k, v in overrides.items() if v is not None})


def train(args: argparse.Namespace) -> int:
    """Train to the budget; save at the end, on Ctrl-C and on divergence (nothing lost)."""
    torch.set_num_threads(args.threads)
    if args.resume is not None:
        trainer = load_trainer(args.resume)
        if args.iterations is not None:
            trainer.budget = args.iterations
        out = args.out or args.resume
    else:
        config = _config_from_args(args)
        trainer = Trainer(make_learner(config))
        out = args.out or Path("runs") / f"{config.learner}-seed{config.seed}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    learner = trainer.learner
    config = learner.config
    control = TrainControl(config.inner_lr if args.resume is None else learner.inner_lr, config.meta_lr)
    print(f"training {config.learner} for {trainer.budget} iterations (seed {config.seed}) -> {out}",
          file=sys.stderr)
    bar = None if args.quiet else ProgressBar(sys.stderr)
    status = 0
    try:
        for snapshot in trainer.run(control, params_interval=float("inf")):
            if bar is not None:
                bar.update(snapshot, force=snapshot.iteration == trainer.budget)
    except KeyboardInterrupt:
        status = 130
        message = f"interrupted at iteration {learner.iteration}"
    except DivergedError as exc:
        status = 1
        message = str(exc)
    if bar is not None:
        bar.close()
    save_checkpoint(out, trainer)
    if status:
        print(f"{message}; saved to {out} (continue with: train --resume {out})", file=sys.stderr)
        return status
    last = trainer.validations[-1] if trainer.validations else None
    summary = f"done: {learner.iteration} iterations in {trainer.elapsed:.1f}s of training"
    if last is not None:
        k = config.inner_steps
        summary += f"; held-out MSE {last.mse[0]:.3f} before, {last.mse[k]:.3f} after {k} step(s)"
    print(f"{summary}\nsaved {out}", file=sys.stderr)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Print the protocol's table for a checkpoint and write its full curves as JSON."""
    torch.set_num_threads(1)
    trainer = load_trainer(args.checkpoint)  # a CheckpointError becomes one line, exit 2
    seed = EVAL_SEED if args.seed is None else args.seed
    started = time.perf_counter()
    task = probe_task(args, trainer.learner.config.task)
    result = run_protocol(trainer.learner, shots=args.shots, steps=args.steps, num_tasks=args.tasks,
                          seed=seed, lr=args.lr, task=task)
    if task is not None:
        print(f"out-of-distribution probe: {dataclasses.asdict(task)}")
    print(format_table(result))
    print(f"(evaluated in {time.perf_counter() - started:.1f}s, seed {seed})")
    out = args.json or args.checkpoint.with_suffix(".eval.json")
    try:
        out.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        print(f"metaviz: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"curves written to {out}")
    return 0


def reproduce(args: argparse.Namespace) -> int:
    """The paper's runs, their table beside the published one, and the figure."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    task = probe_task(args, default_config("maml").task)
    runs = run_reproduction(args.out, seed=args.seed, iterations=args.iterations, num_tasks=args.tasks,
                            task=task, log=lambda line: print(line, file=sys.stderr))
    table = (args.out / "table.md").read_text()
    print(table)
    try:
        from .ui.figures import save_evaluation_figure

        written = save_evaluation_figure([run.result for run in runs], args.out / "figure")
        print("figure: " + ", ".join(str(p) for p in written))
    except ImportError as exc:  # Qt missing on this machine: the numbers still stand
        print(f"metaviz: no figure ({exc}); the table and checkpoints are written", file=sys.stderr)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f}s")
    return 0
