"""The paper's runs in one go: train each learner of a preset with its default
budget, save it, evaluate it on the protocol, and write the results.

One job for ``python main.py reproduce`` and the window's "Reproduce the paper", so
both write the same files and numbers. Every file is written atomically: a cancelled
reproduction leaves complete checkpoints of the learners finished so far and no table
(the log says which files were written). The figure is drawn by a renderer the caller
passes (the window's; the CLI's is the Qt-free SVG writer), so this job imports no Qt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import save_checkpoint
from ..config import TaskConfig
from ..files import WriteError, resolve_target, write_atomic
from ..learners import default_config, learner_spec, make_learner
from ..protocol import EvaluationResult
from ..report import curves_csv, format_markdown
from ..streams import EVALUATION_SEED
from .control import TrainControl
from .evaluation import evaluation_job
from .events import Log, Progress, Result
from .training import Trainer, training_job

# The learners the MAML paper compares (its sinusoid table), plus our multi-task model.
PAPER_PRESET = ("maml", "pretrained", "multitask")
Renderer = Callable[[Sequence[EvaluationResult], Path], list[Path]]


@dataclass(frozen=True)
class ReproducedRun:
    learner: str
    checkpoint: Path
    train_seconds: float
    result: EvaluationResult


def check_output_folder(out_dir: Path) -> None:
    """Refuse, before any training, a folder that cannot take the results."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteError(f"cannot write into {out_dir}: it is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create the folder {out_dir}: {exc.strerror or exc}") from exc
    resolve_target(out_dir / "table.md")  # writable?


def reproduce_job(
    out_dir: Path,
    learners: Sequence[str] = PAPER_PRESET,
    seed: int = 0,
    iterations: int | None = None,
    num_tasks: int = 600,
    eval_seed: int = EVALUATION_SEED,
    task: TaskConfig | None = None,
    render: Renderer | None = None,
) -> Iterator[Progress | Log | Result]:
    """Train, save and evaluate each learner; write ``table.md``, ``results.json``,
    ``curves.csv`` (and the figure through ``render``). The result is the list of
    :class:`ReproducedRun`. ``iterations`` overrides every default budget (quick runs);
    ``task`` evaluates on other settings than training (out-of-distribution)."""
    out_dir = Path(out_dir)
    for kind in learners:
        learner_spec(kind)  # an unknown name fails before anything is trained
    check_output_folder(out_dir)
    configs = [default_config(kind, seed=seed, **({} if iterations is None else {"iterations": iterations}))
               for kind in learners]
    units_per_eval = -(-num_tasks // 200) * 3
    total = sum(c.iterations + units_per_eval for c in configs)
    done = 0
    runs: list[ReproducedRun] = []
    for config in configs:
        trainer = Trainer(make_learner(config))
        control = TrainControl(config.inner_lr, config.meta_lr)
        yield Log(f"training {config.learner} for {trainer.budget} iterations")
        started = time.perf_counter()
        for progress in training_job(trainer, control, with_params=False):
            yield Progress(done + progress.done, total, f"training {config.learner}")
        seconds = time.perf_counter() - started
        done += config.iterations
        path = save_checkpoint(out_dir / f"{config.learner}.pt", trainer)
        yield Log(f"wrote {path} ({seconds:.1f} s of training)")
        result = None
        for event in evaluation_job(trainer.learner, num_tasks=num_tasks, seed=eval_seed, task=task):
            if isinstance(event, Result):
                result = event.value
            else:
                yield Progress(done + event.done, total, f"evaluating {config.learner}")
        done += units_per_eval
        runs.append(ReproducedRun(config.learner, path, seconds, result))
    results = [run.result for run in runs]
    notes = {run.learner: f"{run.train_seconds:.1f} s of training" for run in runs}
    write_atomic(out_dir / "table.md", format_markdown(results, notes=notes) + "\n")
    write_atomic(out_dir / "results.json", json.dumps(
        [{"checkpoint": str(run.checkpoint), "train_seconds": run.train_seconds, **run.result.to_dict()}
         for run in runs], indent=2) + "\n")
    write_atomic(out_dir / "curves.csv", curves_csv(results))
    yield Log(f"wrote {out_dir / 'table.md'}, results.json and curves.csv")
    if render is not None:
        written = render(results, out_dir / "figure")
        yield Log("figure: " + ", ".join(map(str, written)))
    yield Result(runs)
