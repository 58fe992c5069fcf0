"""The headless commands ``train``, ``evaluate``, ``reproduce`` and ``bench``
(argument parsing lives in :mod:`.cli`; this module does not import it)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

import torch

from .checkpoint import load_trainer, save_checkpoint
from .config import TaskConfig
from .files import WriteError, resolve_target, write_atomic
from .jobs import Log, TrainControl, drain
from .jobs.evaluation import evaluation_job
from .jobs.events import Cancelled
from .jobs.reproduce import PAPER_PRESET, reproduce_job
from .jobs.training import Snapshot, Trainer, training_job
from .learners import DivergedError, default_config, make_learner
from .report import format_table
from .streams import EVALUATION_SEED
from .tasks import make_family


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


def task_from_args(args: argparse.Namespace, base: TaskConfig | None) -> TaskConfig | None:
    """``base`` (or the default family) with ``--family``, ``--*-range`` and ``--noise``
    applied; None when none of them was given. Names the family checks."""
    family = getattr(args, "family", None)
    ranges = {name[:-len("_range")]: value for name, value in vars(args).items()
              if name.endswith("_range") and value is not None}
    noise = getattr(args, "noise", None)
    if family is None and not ranges and noise is None:
        return None
    task = base or TaskConfig()
    if family is not None and family != task.family:
        task = TaskConfig(family=family, noise_std=task.noise_std)
    for name, (low, high) in ranges.items():
        task = task.with_range(name, low, high)
    if noise is not None:
        task = dataclasses.replace(task, noise_std=noise)
    return make_family(task).config  # an unknown range name fails here, in one line


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
    config = default_config(args.learner, **{k: v for k, v in overrides.items() if v is not None})
    task = task_from_args(args, None)
    return config if task is None else dataclasses.replace(config, task=task)


def _check_out(out: Path) -> None:
    """Where the checkpoint will go must take it: checked before any training."""
    if out.parent and not out.parent.exists():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot create the folder {out.parent}: {exc.strerror or exc}") from exc
    resolve_target(out)


def _save_somewhere(out: Path, trainer: Trainer) -> Path:
    """Save to ``out``; if that fails now (a full disk), keep the run in the system's
    temporary folder and say so rather than lose it."""
    try:
        return save_checkpoint(out, trainer)
    except ValueError as exc:
        import tempfile

        fallback = Path(tempfile.gettempdir()) / f"metaviz-rescued-{out.name or 'run.pt'}"
        save_checkpoint(fallback, trainer)
        print(f"metaviz: {exc}; the run was saved to {fallback} instead", file=sys.stderr)
        return fallback


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
    _check_out(out)
    learner = trainer.learner
    config = learner.config
    # On resume the run goes on at its own last rates unless new ones are given.
    control = TrainControl(args.inner_lr or (learner.inner_lr if args.resume else config.inner_lr),
                           args.meta_lr or config.meta_lr)
    print(f"training {config.learner} on {config.task.family} for {trainer.budget} iterations "
          f"(seed {config.seed}) -> {out}", file=sys.stderr)
    bar = None if args.quiet else ProgressBar(sys.stderr)
    status = 0

    def show(progress) -> None:
        if bar is not None:
            bar.update(progress.snapshot, force=progress.done == trainer.budget)

    def stop_between_steps(signum, frame) -> None:
        # A KeyboardInterrupt raised mid-step could leave the optimiser, the parameters and
        # the history out of step (the checkpoint would then not resume exactly): Ctrl-C
        # asks the driver to stop after the current meta-step; a second one interrupts now.
        if control.stopped:
            raise KeyboardInterrupt
        control.stop()

    previous = signal.signal(signal.SIGINT, stop_between_steps)
    try:
        drain(training_job(trainer, control, with_params=False), control=control, on_event=show)
    except (Cancelled, KeyboardInterrupt):
        status = 130
        message = f"interrupted at iteration {learner.iteration}"
    except DivergedError as exc:
        status = 1
        message = str(exc)
    finally:
        signal.signal(signal.SIGINT, previous)
    if bar is not None:
        bar.close()
    # A second Ctrl-C during the save must not lose the run: ignore it until saved.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        saved = _save_somewhere(out, trainer)
    finally:
        signal.signal(signal.SIGINT, previous)
    if status:
        print(f"{message}; saved to {saved} (continue with: train --resume {saved})", file=sys.stderr)
        return status
    last = trainer.validations[-1] if trainer.validations else None
    summary = f"done: {learner.iteration} iterations in {trainer.elapsed:.1f}s of training"
    if last is not None:
        k = config.inner_steps
        summary += f"; held-out MSE {last.mse[0]:.3f} before, {last.mse[k]:.3f} after {k} step(s)"
    print(f"{summary}\nsaved {saved}", file=sys.stderr)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Print the protocol's table for a checkpoint and write its full curves as JSON."""
    torch.set_num_threads(1)
    trainer = load_trainer(args.checkpoint)  # a CheckpointError becomes one line, exit 2
    seed = EVALUATION_SEED if args.seed is None else args.seed
    out = args.json or args.checkpoint.with_suffix(".eval.json")
    resolve_target(out)  # a bad --json fails before the work
    started = time.perf_counter()
    task = task_from_args(args, trainer.learner.config.task)
    result = drain(evaluation_job(trainer.learner, shots=args.shots, steps=args.steps, num_tasks=args.tasks,
                                  seed=seed, lr=args.lr, task=task))
    if task is not None:
        print(f"probe apart from training: {json.dumps(task.to_dict())}")
    print(format_table(result))
    print(f"(evaluated in {time.perf_counter() - started:.1f}s, seed {seed})")
    write_atomic(out, json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    print(f"curves written to {out}")
    return 0


def reproduce(args: argparse.Namespace) -> int:
    """The paper's runs, their table beside the published one, and the figure (SVG)."""
    from .svg_figure import save_svg_figure

    torch.set_num_threads(1)
    started = time.perf_counter()
    task = task_from_args(args, None)
    job = reproduce_job(args.out, learners=args.learners or PAPER_PRESET, seed=args.seed,
                        iterations=args.iterations, num_tasks=args.tasks, task=task, render=save_svg_figure)
    drain(job, on_event=lambda e: print(e.text, file=sys.stderr) if isinstance(e, Log) else None)
    print((args.out / "table.md").read_text())
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f}s")
    return 0


def bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(seconds=args.seconds, rounds=args.rounds)
