"""The evaluation view's "Reproduce the paper": the paper's learners trained, saved and
evaluated (as ``python main.py reproduce``), their results shown under the names the
session gives them, the figure written beside the table. A part of
:class:`~metaviz.ui.evaluation_view.EvaluationView` (it uses ``runner``, ``form``,
``figure``, ``log_view``, ``reproduced``, ``set_results``, ``show_error``, ``_start``,
``_begin`` and ``_log``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..jobs.reproduce import PAPER_PRESET, reproduce_job
from ..jobs.runs import default_workers
from ..learners import default_config, learner_spec
from .figures import ExportError

PAPER_TASKS = 600  # PROTOCOL.md: the paper's numbers are means over 600 held-out tasks


def paper_run_name(kind: str) -> str:
    """What a reproduced learner is called in the window (session list, figure, table)."""
    return f"{learner_spec(kind).label} (paper run)"


class EvaluationReproduce:
    """Reproduction methods of the evaluation view; ``_out_dir`` is set while one runs."""

    _out_dir: Path | None = None

    def reproduce(self, out_dir: Path, iterations: int | None = None) -> bool:
        """Train, evaluate and save the paper's learners into ``out_dir`` (as ``python main.py
        reproduce``), with this view's tasks, seed and ranges; the results load here when done."""
        if self.runner.running:
            return self.show_error("An evaluation is already running: wait for it or cancel it.")
        try:
            task = self.form.probe(default_config().task)
        except ValueError as exc:
            return self.show_error(f"Invalid evaluation ranges: {exc}")
        self._out_dir = Path(out_dir)
        self.log_view.clear()
        # The protocol's 600 tasks: the paper's numbers are measured on them, whatever this tab's count.
        # The learners train in processes of their own, one per core (closing or Cancel ends them).
        self._start(reproduce_job(self._out_dir, iterations=iterations, num_tasks=PAPER_TASKS,
                                  eval_seed=self.form.seed.value(), task=task,
                                  workers=default_workers(len(PAPER_PRESET))))
        self._begin(f"reproducing the paper into {out_dir}: the protocol's {PAPER_TASKS} tasks per K "
                    f"(not the tasks box above)")
        return True

    def _ask_reproduce(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Reproduce the paper into folder")
        if folder:
            self.reproduce(Path(folder))

    def _show_reproduction(self, out_dir: Path, runs: list) -> None:
        """The finished runs' results, named as the session lists them (one name per learner
        in every view), and the same figure the CLI writes beside table.md and results.json."""
        self.set_results([dataclasses.replace(run.result, learner=paper_run_name(run.learner)) for run in runs])
        try:
            self._log("figure: " + ", ".join(map(str, self.figure.save(out_dir / "figure"))))
        except ExportError as exc:
            self.show_error(str(exc))
        self.reproduced.emit(runs)
