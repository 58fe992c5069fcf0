"""The paper's runs in one go: train MAML, the pretrained baseline and the multi-task
model with their default budgets, evaluate each on the protocol, write the results.

Used by ``python main.py reproduce`` and by the window's "Reproduce the paper" action
(in its worker thread), so both produce the same files and numbers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import save_checkpoint
from .config import TaskConfig, default_config
from .evaluation import EVAL_SEED, EvaluationResult, evaluate, format_markdown
from .learners.base import make_learner
from .training import TrainControl, Trainer

REPRODUCED = ("maml", "pretrained", "multitask")


@dataclass(frozen=True)
class ReproducedRun:
    learner: str
    checkpoint: Path
    train_seconds: float
    result: EvaluationResult


def reproduce(
    out_dir: Path,
    learners: Sequence[str] = REPRODUCED,
    seed: int = 0,
    iterations: int | None = None,
    num_tasks: int = 600,
    eval_seed: int = EVAL_SEED,
    task: TaskConfig | None = None,
    log: Callable[[str], None] = print,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[ReproducedRun] | None:
    """Train, save and evaluate each learner; write ``table.md`` and ``results.json``.

    ``iterations`` overrides every default budget (for quick runs); ``task`` evaluates
    on other ranges than training (out-of-distribution). Returns None if cancelled
    between meta-steps (checkpoints written so far are kept, no table is written).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: list[ReproducedRun] = []
    for kind in learners:
        config = default_config(kind, seed=seed, **({} if iterations is None else {"iterations": iterations}))
        trainer = Trainer(make_learner(config))
        control = TrainControl(config.inner_lr, config.meta_lr)
        log(f"training {kind} for {trainer.budget} iterations")
        started = time.perf_counter()
        for _ in trainer.run(control, params_interval=float("inf")):
            if cancelled():
                return None
        seconds = time.perf_counter() - started
        path = save_checkpoint(out_dir / f"{kind}.pt", trainer)
        log(f"evaluating {kind} ({seconds:.1f}s of training)")
        result = evaluate(trainer.learner, num_tasks=num_tasks, seed=eval_seed, task=task, cancelled=cancelled)
        if result is None:
            return None
        runs.append(ReproducedRun(kind, path, seconds, result))
    notes = {run.learner: f"{run.train_seconds:.1f} s of training" for run in runs}
    (out_dir / "table.md").write_text(format_markdown([run.result for run in runs], notes=notes) + "\n")
    (out_dir / "results.json").write_text(json.dumps(
        [{"checkpoint": str(run.checkpoint), "train_seconds": run.train_seconds, **run.result.to_dict()}
         for run in runs], indent=2) + "\n")
    return runs

