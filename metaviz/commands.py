"""The headless commands ``train``, ``evaluate``, ``reproduce`` and ``bench``
(argument parsing lives in :mod:`.cli`; this module does not import it)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import torch

from . import interrupts
from .checkpoint import CheckpointError, load_trainer, save_checkpoint
from .config import TaskConfig
from .devices import resolve_device
from .files import WriteError, resolve_target, write_atomic
from .jobs import Log, TrainControl, drain
from .jobs.evaluation import evaluation_job
from .jobs.events import Cancelled
from .jobs.reproduce import PRESETS, reproduce_job
from .jobs.runs import RunSpec, default_workers, runs_job
from .jobs.training import Trainer, training_job
from .learners import DivergedError, default_config, make_learner
from .oracle import OracleLearner
from .progress_bar import ProgressBar
from .report import format_number, format_table
from .streams import EVALUATION_SEED
from .tasks import make_family


def task_from_args(args: argparse.Namespace, base: TaskConfig | None) -> TaskConfig | None:
    """``base`` (or the default family) with ``--family``, ``--*-range``, ``--noise`` and
    ``--option`` applied; None when none of them was given. Names the family checks."""
    family = getattr(args, "family", None)
    ranges = {name[:-len("_range")]: value for name, value in vars(args).items()
              if name.endswith("_range") and value is not None}
    noise = getattr(args, "noise", None)
    options = getattr(args, "option", None) or []
    if family is None and not ranges and noise is None and not options:
        return None
    task = base or TaskConfig()
    if family is not None and family != task.family:
        task = TaskConfig(family=family, noise_std=task.noise_std)
    for name, (low, high) in ranges.items():
        task = task.with_range(name, low, high)
    if noise is not None:
        task = dataclasses.replace(task, noise_std=noise)
    for name, value in options:
        task = task.with_option(name, value)
    return make_family(task).config  # an unknown range or option name fails here, in one line


def _config_from_args(args: argparse.Namespace):
    overrides = {
        "iterations": args.iterations,
        "seed": args.seed,
        "inner_lr": args.inner_lr,
        "meta_lr": args.meta_lr,
        "warmup": getattr(args, "warmup", None),
        "inner_steps": args.inner_steps,
        "meta_batch": args.meta_batch,
        "shots": args.shots,
    }
    config = default_config(args.learner, **{k: v for k, v in overrides.items() if v is not None})
    task = task_from_args(args, None)
    return config if task is None else dataclasses.replace(config, task=task)


def learner_device(args: argparse.Namespace, learner) -> str:
    """``--device``; "auto" is cuda when a CUDA device is present and the learner runs
    there, else cpu (an explicit choice the learner cannot take fails in one line)."""
    return resolve_device(getattr(args, "device", "auto"), learner.devices)


def _check_out(out: Path) -> None:
    """Where the checkpoint will go must take it: checked before any training."""
    if out.parent and not out.parent.exists():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot create the folder {out.parent}: {exc.strerror or exc}") from exc
    resolve_target(out)


def _save_somewhere(out: Path, trainer: Trainer) -> tuple[Path, bool]:
    """Save to ``out``; if that fails now (a full disk), keep the run in the system's
    temporary folder (else the home or the current folder) and say so rather than lose
    it. Returns the path saved and whether it is not ``out``."""
    try:
        return save_checkpoint(out, trainer), False
    except CheckpointError as exc:
        failure = exc
    import tempfile

    # A new name each time: an earlier rescued run must not be replaced by this one.
    name = f"metaviz-rescued-{out.stem or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{out.suffix or '.pt'}"
    folders = list(dict.fromkeys([Path(tempfile.gettempdir()), Path.home(), Path.cwd()]))
    for folder in folders:
        try:
            saved = save_checkpoint(folder / name, trainer)
        except CheckpointError:
            continue
        print(f"metaviz: {failure}; the run was saved to {saved} instead", file=sys.stderr)
        return saved, True
    raise CheckpointError(f"{failure}; nor could the run be saved in {', '.join(map(str, folders))}")


def train(args: argparse.Namespace) -> int:
    """Train to the budget; save at the end, on Ctrl-C and on divergence (nothing lost)."""
    if args.seeds:
        return train_seeds(args)
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
    learner = trainer.learner.to(learner_device(args, trainer.learner))
    config = learner.config
    if args.compile:
        from .compiled import use_compiled

        print(f"metaviz: {use_compiled(learner)}", file=sys.stderr)
    # On resume the run goes on at its own last rates unless new ones are given.
    control = TrainControl(args.inner_lr or (learner.inner_lr if args.resume else config.inner_lr),
                           args.meta_lr or config.meta_lr)
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
    if interrupts.take_pending():  # Ctrl-C while torch imported or the learner was built
        signal.signal(signal.SIGINT, previous)
        print("metaviz: interrupted before training started; nothing was written", file=sys.stderr)
        return 130
    print(f"training {config.learner} on {config.task.family} for {trainer.budget} iterations "
          f"(seed {config.seed}) -> {out}", file=sys.stderr)
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
        saved, rescued = _save_somewhere(out, trainer)
    finally:
        signal.signal(signal.SIGINT, previous)
    if status or rescued:
        what = message if status else f"done: {learner.iteration} iterations, but not saved to {out}"
        print(f"{what.rstrip('.')}; saved to {saved} (continue with: train --resume {saved})", file=sys.stderr)
        return status or 1
    last = trainer.validations[-1] if trainer.validations else None
    summary = f"done: {learner.iteration} iterations in {trainer.elapsed:.1f}s of training"
    if last is not None:
        k = config.inner_steps
        summary += (f"; held-out MSE {format_number(last.mse[0])} before adapting, "
                    f"{format_number(last.mse[k])} after {k} step(s)")
    compiled = getattr(learner, "compiled", None)
    if compiled is not None:
        summary += f"; {compiled.outcome()}"
    print(f"{summary}\nsaved {saved}", file=sys.stderr)
    return 0


def train_seeds(args: argparse.Namespace) -> int:
    """One run per seed, each in its own process (one torch thread each): on two idle
    cores two seeds take about the time of one. Checkpoints go to the folder --out."""
    if args.resume is not None:
        raise ValueError("--seeds starts new runs; it cannot be combined with --resume")
    # Runs done in this process (--workers 1) take --threads like train; each worker takes one.
    torch.set_num_threads(args.threads)
    folder = args.out or Path("runs")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder}: with --seeds it names a folder, and this is a file")
    folder.mkdir(parents=True, exist_ok=True)
    seeds = list(dict.fromkeys(args.seeds))
    specs = []
    for seed in seeds:
        config = dataclasses.replace(_config_from_args(args), seed=seed)
        path = folder / f"{config.learner}-seed{seed}.pt"
        resolve_target(path)
        specs.append(RunSpec(config, path))
    workers = args.workers or default_workers(len(specs))
    print(f"training {specs[0].config.learner} for {specs[0].config.iterations} iterations on seeds "
          f"{', '.join(map(str, seeds))} in {min(workers, len(specs))} process(es) -> {folder}", file=sys.stderr)
    started = time.perf_counter()
    last_line = [0.0]

    def show(event) -> None:
        if isinstance(event, Log):
            print(event.text, file=sys.stderr)
        elif not args.quiet and time.perf_counter() - last_line[0] > 2:
            last_line[0] = time.perf_counter()
            print(f"  {100 * event.done / max(event.total, 1):5.1f}%  {event.text}", file=sys.stderr)

    try:
        outcomes = drain(runs_job(specs, workers), on_event=show)
    except KeyboardInterrupt:
        print("interrupted: the runs that had finished are saved; the others were stopped", file=sys.stderr)
        return 130
    k = specs[0].config.inner_steps
    print(f"{'seed':>6}  {'iterations':>10}  {'train s':>8}  {'held-out MSE before':>19}  {f'after {k} step(s)':>16}")
    for seed, outcome in zip(seeds, outcomes):
        before, after = (outcome.final_mse[0], outcome.final_mse[k]) if outcome.final_mse else (math.nan, math.nan)
        print(f"{seed:>6}  {outcome.iterations:>10}  {outcome.train_seconds:>8.1f}  {before:>19.4f}  {after:>16.4f}"
              + (f"  diverged: {outcome.diverged}" if outcome.diverged else ""))
    print(f"{len(outcomes)} runs in {time.perf_counter() - started:.1f} s wall; saved in {folder}", file=sys.stderr)
    return 1 if any(o.diverged for o in outcomes) else 0


def evaluate(args: argparse.Namespace) -> int:
    """Print the protocol's table for a checkpoint (or, with ``--oracle``, for the family's
    exact oracle) and write its full curves as JSON."""
    torch.set_num_threads(1)
    if (args.checkpoint is None) == (not args.oracle):
        raise ValueError("evaluate: a CHECKPOINT is required, or --oracle (with --family) instead of one"
                         if args.checkpoint is None else "evaluate: give a CHECKPOINT or --oracle, not both")
    seed = EVALUATION_SEED if args.seed is None else args.seed
    if args.oracle:
        task = task_from_args(args, None) or TaskConfig()
        learner = OracleLearner(make_family(task))  # a family without an oracle: one line, exit 2
        out = args.json or Path("runs") / f"oracle-{task.family}.eval.json"
        task = None  # the oracle's own family: no probe apart from training
    else:
        learner = load_trainer(args.checkpoint).learner  # a CheckpointError becomes one line, exit 2
        learner.to(learner_device(args, learner))
        out = args.json or args.checkpoint.with_suffix(".eval.json")
        task = task_from_args(args, learner.config.task)
    if args.oracle:
        _check_out(out)  # runs/ may not exist yet
    else:
        resolve_target(out)  # a bad --json fails before the work
    started = time.perf_counter()
    result = drain(evaluation_job(learner, shots=args.shots, steps=args.steps, num_tasks=args.tasks,
                                  seed=seed, lr=args.lr, task=task))
    if args.oracle:
        print(f"{OracleLearner.label}: {json.dumps(learner.task.to_dict())}")
    elif task is not None:
        print(f"probe apart from training: {json.dumps(task.to_dict())}")
    print(format_table(result))
    print(f"(evaluated in {time.perf_counter() - started:.1f}s, seed {seed})")
    write_atomic(out, json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    print(f"curves written to {out}")
    return 0


def reproduce(args: argparse.Namespace) -> int:
    """A preset's runs (the paper's by default), their table (beside the published one for
    sinusoids) and the figure (SVG)."""
    from .svg_figure import save_svg_figure

    torch.set_num_threads(1)
    started = time.perf_counter()
    preset = PRESETS[args.preset]
    task = task_from_args(args, preset.task)  # a probe: the preset's tasks with the changes given
    job = reproduce_job(args.out, learners=args.learners or preset.learner_names(), seed=args.seed,
                        iterations=args.iterations, num_tasks=args.tasks, task=task, render=save_svg_figure,
                        train_task=preset.task, oracle=preset.oracle,
                        workers=args.workers or default_workers(len(args.learners or preset.learner_names())))
    drain(job, on_event=lambda e: print(e.text, file=sys.stderr) if isinstance(e, Log) else None)
    print((args.out / "table.md").read_text())
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f}s")
    return 0


def bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(seconds=args.seconds, rounds=args.rounds, device=args.device, sizes=args.sizes,
                     compile_step=not args.no_compile)
