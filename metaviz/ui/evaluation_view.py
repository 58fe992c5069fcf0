"""The evaluation view: the benchmark protocol on your learners, as the MAML paper's
figure and a table beside the published figures, with out-of-distribution probes,
exports and "Reproduce the paper".

Evaluation runs in the job thread (:mod:`.runner`) on copies of the learners rebuilt
from :class:`~metaviz.jobs.evaluation.EvaluationSpec` (their settings and parameters
as they were at Run), in worker processes when several learners and enough work make
them pay (:func:`~metaviz.jobs.runs.evaluation_workers`); only this GUI thread touches
widgets. Cancel and closing the view close the job, which terminates the workers.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..adaptation import steps_note
from ..jobs import JobControl, Log, Progress, Result
from ..jobs.evaluation import EvaluationSpec
from ..jobs.runs import evaluation_workers, runs_job
from ..learners import Learner
from ..oracle import OracleLearner
from ..protocol import EvaluationResult
from ..report import table_rows
from ..tasks import make_family
from .evaluation_exports import EvaluationExports
from .evaluation_form import ProtocolForm, group
from .evaluation_reproduce import PAPER_TASKS, EvaluationReproduce
from .figures import EvaluationFigure
from .runner import JobRunner


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class EvaluationView(EvaluationExports, EvaluationReproduce, QWidget):
    """Settings, Run / Cancel, progress, the figure and the table, exports.

    Signals: ``error_message(str)`` for every error shown; ``results_changed(list)``
    with the new :class:`EvaluationResult` list; ``reproduced(list)`` with the
    :class:`~metaviz.jobs.reproduce.ReproducedRun` list (checkpoint paths) of a reproduction.
    """

    error_message = Signal(str)
    results_changed = Signal(list)
    reproduced = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: list[EvaluationResult] = []
        self.colours: dict[str, str] = {}
        self.runner = JobRunner("evaluation", self)
        self.clock = time.perf_counter  # tests put a fake clock here
        self._started = 0.0
        self._what = ""
        self._output = None  # the finished job's result
        self._build()

    # --- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        self.form = ProtocolForm()
        self.run_button = QPushButton("Run", clicked=self.run)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, enabled=False)
        self.progress = QProgressBar(textVisible=True)
        self.status = QLabel("idle", wordWrap=True)
        self.log_view = QPlainTextEdit(readOnly=True, maximumHeight=110, placeholderText="log")
        side = QVBoxLayout()
        side.addWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        side.addLayout(buttons)
        side.addWidget(self.progress)
        side.addWidget(self.status)
        exports = QGridLayout()
        self.export_buttons: list[QPushButton] = []
        for index, (text, method, filter_) in enumerate((
                ("Figure PNG…", self.export_png, "PNG image (*.png)"),
                ("Figure SVG…", self.export_svg, "SVG image (*.svg)"),
                ("Curves CSV…", self.export_csv, "CSV (*.csv)"),
                ("Table Markdown…", self.export_markdown, "Markdown (*.md)"))):
            button = QPushButton(text, clicked=lambda _=False, m=method, f=filter_, t=text: self._ask_export(m, f, t),
                                 enabled=False, toolTip="Run an evaluation first: there is nothing to export yet")
            self.export_buttons.append(button)
            exports.addWidget(button, index // 2, index % 2)
        side.addWidget(group("Export", exports))
        side.addWidget(QPushButton("Reproduce the paper…", clicked=self._ask_reproduce,
                                   toolTip=f"Train MAML, pretrained and multi-task with their default budgets, "
                                           f"evaluate them on the protocol's {PAPER_TASKS} tasks per K (whatever "
                                           f"the tasks box says), write checkpoints, table and figure"))
        side.addWidget(self.log_view)
        side.addStretch(1)
        self.figure = EvaluationFigure()
        self.table = QTableWidget(0, 0, editTriggers=QTableWidget.EditTrigger.NoEditTriggers)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.figure)
        plots.addWidget(self.table)
        plots.setSizes([500, 250])
        settings = QWidget()
        settings.setLayout(side)
        # In a scroll area: a short screen scrolls the settings instead of growing the window.
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(settings)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setFixedWidth(min(settings.minimumSizeHint().width(), 340) + bar + 4)
        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(plots, 1)

    # --- learners -------------------------------------------------------------------
    @property
    def learners(self) -> dict[str, Learner]:
        return self.form.learners

    def set_learners(self, learners: dict[str, Learner], colours: dict[str, str] | None = None) -> None:
        """Offer ``learners`` (name -> learner), all checked; the ranges reset to theirs.
        ``colours`` (name -> colour) keeps each learner's colour from the other views."""
        self.form.set_learners(learners)
        self.colours = dict(colours or {})

    def checked_learners(self) -> list[str]:
        return self.form.checked_learners()

    # --- running --------------------------------------------------------------------
    def run(self) -> bool:
        """Start evaluating the checked learners; False (with a message) if settings are invalid."""
        form = self.form
        names, shots = form.checked_learners(), form.checked_shots()
        if self.runner.running:
            return self.show_error("An evaluation is already running: wait for it or cancel it.")
        if not names or not shots:
            return self.show_error("Choose at least one learner and one K to evaluate.")
        try:
            tasks = {name: form.probe(self.learners[name].config.task) for name in names}
        except ValueError as exc:
            return self.show_error(f"Invalid evaluation ranges: {exc}")
        protocol = {"shots": shots, "steps": form.steps.value(), "num_tasks": form.tasks.value(),
                    "seed": form.seed.value(), "lr": form.test_lr()}
        specs = [EvaluationSpec.of(self.learners[n], n, task=tasks[n], **protocol) for n in names]
        # The best possible answer as one more row, where the tasks evaluated on have an
        # exact oracle (all learners must meet the same tasks for the row to mean anything).
        families = {(tasks[n] or self.learners[n].config.task) for n in names}
        if len(families) == 1:
            family = make_family(families.pop())
            if family.has_oracle():
                specs.append(EvaluationSpec.of(OracleLearner(family), OracleLearner.kind, **protocol))
        self.log_view.clear()
        # Worker processes only where they pay: a worker takes ~1 s to start and the default
        # protocol ~0.3 s a learner (measured; the rule is evaluation_workers'). The oracle is not
        # counted: it costs a fraction of any learner.
        self._start(runs_job(specs, evaluation_workers(len(names), **protocol)))
        self._begin(f"evaluating {len(names)} learner(s) on {form.tasks.value()} tasks per K")
        return True

    def _start(self, job) -> None:
        self.runner.start(job, JobControl(), self._on_event, self._on_end)

    def _on_event(self, event) -> None:
        if isinstance(event, Progress):
            self._on_progress(event.done, event.total)
        elif isinstance(event, Log):
            self._log(event.text)
        elif isinstance(event, Result):
            self._output = event.value

    def _on_end(self, outcome: str, error) -> None:
        if outcome == "finished":
            self._on_finished(self._output)
        elif outcome == "cancelled":
            written = " (the log lists the files written: complete checkpoints, no table)" if self._out_dir else ""
            self._end(f"cancelled: nothing shown{written}", ok=False)
        else:
            self._on_error(str(error) if isinstance(error, (OSError, ValueError))
                           else f"{type(error).__name__}: {error}")

    def cancel(self) -> None:
        self.runner.cancel()
        self.status.setText("cancelling…")

    def shutdown(self) -> None:
        """Cancel and join any running worker (call before the view goes away)."""
        self.runner.stop()
        self._set_running(False)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def _begin(self, text: str) -> None:
        self._started = self.clock()
        self._what = text
        self.progress.setRange(0, 0)  # busy until the first report
        self.status.setText(text)
        self._set_running(True)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_progress(self, done: int, total: int) -> None:
        """The bar, and a line with the percentage and the time left (from the rate so far)."""
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if total <= 0:
            return
        elapsed = self.clock() - self._started
        left = f", about {_clock(elapsed * (total - done) / done)} left" if 0 < done < total and elapsed > 0 else ""
        self.status.setText(f"{self._what}\n{100 * done // total}% done{left}")

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    def _on_finished(self, output: list) -> None:
        out_dir, self._out_dir = self._out_dir, None
        if out_dir is None:
            self.set_results(output)
        else:
            self._show_reproduction(out_dir, output)
        self._end(f"done in {self.clock() - self._started:.1f}s")

    def _on_error(self, message: str) -> None:
        self._end("failed", ok=False)
        self.show_error(message)

    def _end(self, text: str, ok: bool = True) -> None:
        """Back to idle; the bar stays full after a success and empties otherwise."""
        self._out_dir = None
        if not ok or self.progress.maximum() == 0:  # still busy-looking: no report arrived
            self.progress.setRange(0, 1)
            self.progress.setValue(int(ok))
        self.status.setText(text)
        self._set_running(False)

    # --- results --------------------------------------------------------------------
    def set_results(self, results: list[EvaluationResult]) -> None:
        """Show ``results`` in the figure and the table (e.g. loaded from elsewhere)."""
        self.results = list(results)
        notes = {name: steps_note(learner) for name, learner in self.learners.items()}
        self.figure.set_results(self.results, self.colours, {name: note for name, note in notes.items() if note})
        self._fill_table()
        for button in self.export_buttons:
            button.setEnabled(bool(self.results))
            button.setToolTip("" if self.results else "Run an evaluation first: there is nothing to export yet")
        self.results_changed.emit(self.results)

    def _fill_table(self) -> None:
        header, rows = table_rows(self.results)
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setHorizontalHeaderLabels(header)
        self.table.setRowCount(len(rows))
        for r, (cells, tip) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    # --- errors ----------------------------------------------------------------------
    def show_error(self, text: str) -> bool:
        """The one way errors reach a person: ``error_message`` and a message box. Returns False."""
        self.error_message.emit(text)
        self.show_box(text)
        return False

    def show_box(self, text: str) -> None:
        QMessageBox.warning(self, "metaviz", text)
