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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import TaskConfig
from ..files import WriteError, resolve_target, write_atomic
from ..learners import default_config, learner_names, learner_spec
from ..oracle import OracleLearner
from ..protocol import EvaluationResult
from ..report import curves_csv, format_markdown
from ..streams import EVALUATION_SEED
from ..tasks import make_family
from .evaluation import CHUNK_TASKS, evaluation_job
from .events import Log, Progress, Result
from .runs import RunSpec, runs_job

# The learners the MAML paper compares (its sinusoid table), plus our multi-task model.
PAPER_PRESET = ("maml", "pretrained", "multitask")
Renderer = Callable[[Sequence[EvaluationResult], Path], list[Path]]


@dataclass(frozen=True)
class Preset:
    """What ``reproduce --preset NAME`` runs: ``learners`` (plus those of ``optional`` that
    are registered) trained with their default budgets on ``task``, and, with ``oracle``,
    the family's exact oracle as one more row where the family has one."""

    description: str
    learners: tuple[str, ...]
    task: TaskConfig = TaskConfig()
    oracle: bool = False
    optional: tuple[str, ...] = ()
    every_learner: bool = False  # every registered learner, plugins included (read when run)

    def learner_names(self) -> tuple[str, ...]:
        if self.every_learner:
            return tuple(learner_names())
        known = set(learner_names())
        return self.learners + tuple(name for name in self.optional if name in known)


PRESETS = {
    "paper": Preset("the MAML paper's sinusoid comparison (maml, pretrained, multitask)", PAPER_PRESET),
    "multimodal": Preset("maml, multitask (and cavia, alpaca where present) on the 3-mode multimodal3 family, "
                         "beside its oracle if it has one", ("maml", "multitask"),
                         TaskConfig(family="multimodal3"), oracle=True, optional=("cavia", "alpaca")),
    "zoo": Preset("every registered learner (plugins included) on the paper's sinusoids, beside the oracle",
                  (), oracle=True, every_learner=True),
}


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
    train_task: TaskConfig | None = None,
    oracle: bool = False,
    workers: int = 1,
) -> Iterator[Progress | Log | Result]:
    """Train, save and evaluate each learner; write ``table.md``, ``results.json``,
    ``curves.csv`` (and the figure through ``render``). The result is the list of
    :class:`ReproducedRun`. ``iterations`` overrides every default budget (quick runs);
    ``train_task`` is the family and settings trained on (default: the sinusoids);
    ``task`` evaluates on other settings than training (out-of-distribution); ``oracle``
    adds the evaluated family's exact oracle as a row (in the files; it is no run);
    ``workers`` > 1 trains and evaluates the learners in that many processes at once."""
    out_dir = Path(out_dir)
    for kind in learners:
        learner_spec(kind)  # an unknown name fails before anything is trained
    eval_family = make_family(task or train_task)  # bad settings fail before training too
    with_oracle = oracle and eval_family.has_oracle()
    check_output_folder(out_dir)
    changes = {} if iterations is None else {"iterations": iterations}
    if train_task is not None:
        changes["task"] = train_task
    configs = [default_config(kind, seed=seed, **changes) for kind in learners]
    evaluate = {"num_tasks": num_tasks, "seed": eval_seed, "task": task}
    specs = [RunSpec(config, out_dir / f"{config.learner}.pt", evaluate) for config in configs]
    oracle_units = -(-num_tasks // CHUNK_TASKS) * 3 if with_oracle else 0
    total = sum(spec.units for spec in specs) + oracle_units
    outcomes = []
    for event in runs_job(specs, workers):
        if isinstance(event, Result):
            outcomes = event.value
        elif isinstance(event, Progress):
            yield Progress(event.done, total, event.text)
        else:
            yield event
    for outcome in outcomes:
        if outcome.diverged:
            yield Log(f"{outcome.learner} diverged ({outcome.diverged}); its checkpoint keeps the last sane "
                      f"parameters and it is left out of the table")
    runs = [ReproducedRun(o.learner, o.checkpoint, o.train_seconds, o.result) for o in outcomes if not o.diverged]
    done = total - oracle_units
    results = [run.result for run in runs]
    rows = [{"checkpoint": str(run.checkpoint), "train_seconds": run.train_seconds, **run.result.to_dict()}
            for run in runs]
    if oracle and not with_oracle:
        yield Log(f"the {eval_family.name} family has no exact oracle: no oracle row")
    if with_oracle:
        for event in evaluation_job(OracleLearner(eval_family), num_tasks=num_tasks, seed=eval_seed):
            if isinstance(event, Result):
                results.append(event.value)
                rows.append({"checkpoint": None, "train_seconds": 0.0, **event.value.to_dict()})
            else:
                yield Progress(done + event.done, total, "evaluating the oracle")
    notes = {run.learner: f"{run.train_seconds:.1f} s of training" for run in runs}
    if with_oracle:
        notes[OracleLearner.kind] = "nothing trained"  # the row's name says whether it is exact
    write_atomic(out_dir / "table.md", format_markdown(results, notes=notes) + "\n")
    write_atomic(out_dir / "results.json", json.dumps(rows, indent=2) + "\n")
    write_atomic(out_dir / "curves.csv", curves_csv(results))
    yield Log(f"wrote {out_dir / 'table.md'}, results.json and curves.csv")
    if render is not None:
        written = render(results, out_dir / "figure")
        yield Log("figure: " + ", ".join(map(str, written)))
    yield Result(runs)
