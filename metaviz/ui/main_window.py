"""The explorer window: training state, task interaction and painting.

Only this (GUI) thread touches widgets and ``self.view_learner``; the worker thread
owns ``self.trainer`` while training runs. The window keeps only the latest
published parameters and repaints on a timer when something changed.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMessageBox

from ..config import TrainConfig, default_config
from ..learners.base import make_learner
from ..tasks import SinusoidFamily
from ..training import LossHistory, Trainer
from .adaptation import AdaptationView, adapt_view
from .controls import ControlPanel
from .file_actions import FileActions
from .learner_session import LearnerSession
from .plots import TaskPlot, TrainingPlot
from .settings import Preferences
from .status import RateMeter, StatusLine
from .task_browser import TaskHistory
from .task_panel import TaskPanel
from .window_layout import build_layout
from .worker import Progress, TrainingController


def window_defaults() -> TrainConfig:
    """MAML with the paper's settings; scored on held-out tasks often enough to draw a curve."""
    return default_config("maml", eval_every=100)


FRAME_MS = 25  # repaint timer: a user's edit is drawn within 50 ms
# Progress from the worker is drawn at most this often: every frame costs the GUI
# thread Python time, and Python time is shared with the worker through the GIL.
TRAINING_FRAME_S = 0.2
CURVES_FRAME_S = 1.0  # the training curves grow slowly: redraw them less often still


class MainWindow(QMainWindow):
    """``stateChanged(state)``; ``messageShown(text)`` for every error or notice shown."""

    stateChanged = Signal(str)
    messageShown = Signal(str)

    def __init__(self, preferences: Preferences, config: TrainConfig | None = None) -> None:
        super().__init__()
        self.setWindowTitle("metaviz")
        self.preferences = preferences
        self.config = config or preferences.last_config() or window_defaults()
        self.state = "idle"
        self.last_message = ""
        self._session = 0
        self._params = None  # latest published parameters, drawn on the next tick
        self._dirty = True  # a user edit: draw on the next tick
        self._progress = False  # new training progress: draw when TRAINING_FRAME_S has passed
        self._last_draw = self._last_curves = 0.0
        self.rate = RateMeter()
        self.controller = TrainingController(self)
        self.controls = ControlPanel(self.config)
        self.task_panel = TaskPanel(self.config.task)
        self.task_plot = TaskPlot()
        self.training_plot = TrainingPlot()
        self.status = StatusLine()
        self.session = LearnerSession(self)
        self.buttons = build_layout(self)
        self.files = FileActions(self)
        self.session.add_menu()
        self._connect()
        self.history = TaskHistory(SinusoidFamily(self.config.task), self.config.seed)
        self.history.new_random(self.config.shots)
        self._new_model(self.config)
        self.controls.adapt_lr.setValue(self.view_learner.default_adapt_lr(self.config.shots))
        self._show_task()
        geometry = preferences.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.repaint_if_dirty)
        self.timer.start()
        self.repaint_if_dirty()

    def _connect(self) -> None:
        b = self.buttons
        b["start"].clicked.connect(self.start)
        b["pause"].clicked.connect(self.pause)
        b["resume"].clicked.connect(self.resume)
        b["step"].clicked.connect(self.step)
        b["stop"].clicked.connect(self.stop)
        b["reset"].clicked.connect(self.reset)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.toggle_run)
        self.controller.progressed.connect(self._on_progress)
        self.controller.ended.connect(self._on_ended)
        self.controls.ratesChanged.connect(self._on_rates)
        self.controls.modelChanged.connect(self._on_model_change)
        self.controls.budgetChanged.connect(self.set_budget)
        self.controls.adaptationChanged.connect(self.mark_dirty)
        p = self.task_panel
        p.previousRequested.connect(lambda: self._show_task(self.history.previous()))
        p.nextRequested.connect(lambda: self._show_task(self.history.next()))
        p.newRequested.connect(lambda: self._show_task(self.history.new_random(self.config.shots)))
        p.resampleRequested.connect(lambda: self._show_task(self.history.resample(self.config.shots)))
        p.clearRequested.connect(lambda: self._edit_task(self.history.current.cleared()))
        p.taskEdited.connect(lambda a, ph: self._edit_task(self.history.current.with_task(a, ph)))
        p.displayChanged.connect(self.mark_dirty)
        self.task_plot.clicked.connect(self._on_plot_click)

    # --- training ----------------------------------------------------------------
    def start(self) -> None:
        if self.state in ("idle", "done") and not self.controller.running and not self.trainer.done:
            self._launch(paused=False)

    def pause(self) -> None:
        if self.state == "training":
            self.controller.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self.state == "paused" and self.controller.running:
            self.controller.resume()
            self._set_state("training")
        elif self.state in ("paused", "diverged") and not self.trainer.done:
            self._launch(paused=False)

    def step(self) -> None:
        """Exactly one meta-iteration, then paused."""
        if self.trainer.done or self.state == "training":
            return
        if not self.controller.running:
            self._launch(paused=True)
        self.controller.step_once()

    def stop(self) -> None:
        if self.controller.running:
            self.controller.stop()
            self._set_state("done" if self.trainer.done else "idle")

    def reset(self) -> None:
        self._new_model(self.config)

    def toggle_run(self) -> None:
        """Space: start, pause or resume."""
        {"training": self.pause, "paused": self.resume, "diverged": self.resume}.get(self.state, self.start)()

    def _launch(self, paused: bool) -> None:
        self.rate.reset()
        self.controller.start(self.trainer, self.config.inner_lr, self.config.meta_lr, self._session, paused)
        self._set_state("paused" if paused else "training")

    def _on_progress(self, progress: Progress) -> None:
        if progress.session != self._session:  # from a model that has since been replaced
            return
        self.training_plot.append(progress.losses, progress.validations)
        self.losses.extend(progress.losses)
        self.validations.extend(progress.validations)
        self.snapshot = progress.snapshot
        self._params = progress.snapshot.params
        self.rate.update(progress.snapshot.iteration)
        self._progress = True

    def _on_ended(self, state: str, message: str) -> None:
        if state == "diverged":
            # The learner may have stepped back to its last sane parameters: show those
            # and its trimmed history (the thread is joined, so reading it is safe).
            self._show_trainer_history()
            self._params = self.trainer.learner.parameters_snapshot()
            self._set_state("diverged")
            self.notify("Training diverged", message)
        elif state == "failed":
            self._set_state("idle")
            self.notify("Training failed", message)
        else:
            self._set_state("done" if self.trainer.done else "idle")

    def _set_state(self, state: str) -> None:
        self.state = state
        b = self.buttons
        running = state in ("training", "paused")
        b["start"].setEnabled(state in ("idle", "done") and not self.trainer.done)
        b["pause"].setEnabled(state == "training")
        b["resume"].setEnabled(state in ("paused", "diverged"))
        b["step"].setEnabled(state != "training" and not self.trainer.done)
        b["stop"].setEnabled(running)
        self.mark_dirty()
        self.stateChanged.emit(state)

    # --- settings ----------------------------------------------------------------
    def _on_rates(self, inner_lr: float, meta_lr: float) -> None:
        self.config = self.config.with_changes(inner_lr=inner_lr, meta_lr=meta_lr)
        self.controller.set_rates(inner_lr, meta_lr)

    def set_budget(self, budget: int) -> None:
        self.config = self.config.with_changes(iterations=budget)
        self.trainer.budget = budget  # an int: the worker reads it between steps
        if not self.controller.running and self.state in ("idle", "done"):
            self._set_state("done" if self.trainer.done else "idle")

    def _on_model_change(self, name: str, value) -> None:
        if name == "learner":
            # Nothing is discarded: the current learner stays in the session's library.
            kept = {k: getattr(self.config, k) for k in ("seed", "shots", "inner_lr")}
            self.session.switch_kind(value, default_config(value, eval_every=self.config.eval_every, **kept))
            return
        if self.trained and not self.confirm(f"Changing {name.replace('_', ' ')} needs a new model: "
                                             "the training so far is discarded. Continue?"):
            self.controls.set_config(self.config)
            return
        config = self.config.with_changes(**{name: value})
        self.apply_config(config)

    def apply_config(self, config: TrainConfig) -> None:
        """Show ``config`` and start a fresh model with it."""
        old = self.config
        self.controls.set_config(config)
        self._new_model(config)
        if config.learner != old.learner or config.shots != old.shots:
            self.controls.adapt_lr.setValue(self.view_learner.default_adapt_lr(config.shots))
        if config.shots != old.shots:
            self._show_task(self.history.resample(config.shots))

    def show_trainer(self, trainer: Trainer) -> None:
        """Explore ``trainer`` (loaded, or another of the session's) at once; Start continues it."""
        config = trainer.learner.config.with_changes(iterations=trainer.budget)
        old = self.config
        self.controls.set_config(config)
        self._new_model(config, trainer)
        self.controls.adapt_lr.setValue(self.view_learner.default_adapt_lr(config.shots))
        if config.shots != old.shots:
            self._show_task(self.history.resample(config.shots))

    @property
    def trained(self) -> bool:
        return self.controller.running or bool(self.losses)

    def _new_model(self, config: TrainConfig, trainer: Trainer | None = None) -> None:
        """Replace the model (a fresh one, or a loaded ``trainer``); the old run is discarded."""
        self.controller.stop()
        self._session += 1
        self.config = config
        self.trainer = trainer or Trainer(make_learner(config))
        self.view_learner = make_learner(config)
        self._params = self.trainer.learner.parameters_snapshot()  # no thread runs: safe to read
        self.snapshot = None
        self._show_trainer_history()
        self.task_plot.set_ranges(config.task.x_min, config.task.x_max, config.task.amp_max)
        self.rate.reset()
        self._set_state("done" if self.trainer.done else "idle")
        self.session.set_active_trainer(self.trainer)

    def _show_trainer_history(self) -> None:
        """Losses and validations as the trainer holds them (no worker may be running)."""
        self.losses = LossHistory(self.trainer.losses)
        self.validations = list(self.trainer.validations)
        self.training_plot.clear_history()
        self.training_plot.append(self.losses, self.validations)

    # --- the task ----------------------------------------------------------------
    def _show_task(self, sample=None) -> None:
        sample = sample or self.history.current
        self.task_panel.show_task(sample, self.history.can_go_back(), self.history.can_go_forward())
        self.mark_dirty()

    def _edit_task(self, sample) -> None:
        self.history.replace(sample)
        self._show_task(sample)

    def _on_plot_click(self, x: float, y: float, button) -> None:
        current = self.history.current
        if button == Qt.MouseButton.LeftButton:
            self._edit_task(current.with_point(x, y))
        elif button == Qt.MouseButton.RightButton:
            self._edit_task(current.without_nearest(x, y, self.task_plot.y_scale()))

    # --- painting ----------------------------------------------------------------
    def mark_dirty(self) -> None:
        self._dirty = True

    def draw_now(self) -> None:
        """Draw the latest state at once (before an export or a screenshot)."""
        self.mark_dirty()
        self.repaint_if_dirty()

    def repaint_if_dirty(self) -> None:
        """Timer tick: draw the latest state once, however many updates arrived."""
        now = time.monotonic()
        if not (self._dirty or self._progress and now - self._last_draw >= TRAINING_FRAME_S):
            return
        if self._dirty or now - self._last_curves >= CURVES_FRAME_S or self.state != "training":
            self.training_plot.refresh()
            self._last_curves = now
        self._dirty = self._progress = False
        self._last_draw = now
        self.view = self.compute_view()
        self.session.on_iteration(self.snapshot.iteration if self.snapshot else self.trainer.learner.iteration)
        self.session.refresh_views()
        self.task_plot.draw(self.view, self.history.current, self.task_panel.show_query.isChecked(),
                            self.task_panel.show_steps.isChecked())
        s = self.snapshot
        iteration = s.iteration if s else self.trainer.learner.iteration
        elapsed = s.elapsed if s else self.trainer.elapsed
        # While training: the measured wall-clock rate; otherwise the run's average.
        rate = self.rate.rate if self.state == "training" else iteration / elapsed if elapsed > 0 else 0.0
        self.status.show_status(self.config.learner, iteration, self.trainer.budget, rate, elapsed, self.state)

    def compute_view(self) -> AdaptationView:
        """The current task adapted by the latest parameters (loaded into the GUI's own copy)."""
        if self._params is not None:
            self.view_learner.load_state_dict({"tensors": self._params})
            self.view_learner.iteration = self.snapshot.iteration if self.snapshot else self.trainer.learner.iteration
            self._params = None
        return adapt_view(self.view_learner, self.history.current, int(self.controls.adapt_steps.value()),
                          self.controls.adapt_lr.value())

    # --- messages ----------------------------------------------------------------
    def notify(self, title: str, message: str) -> None:
        """Every error reaches the user here (tests replace :meth:`show_message`)."""
        self.last_message = message
        self.messageShown.emit(message)
        self.show_message(title, message)

    def show_message(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "metaviz", question)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.timer.stop()
        self.controller.stop()  # joins the worker thread before the window goes away
        self.preferences.set_geometry(self.saveGeometry())
        self.preferences.set_last_config(self.config)
        self.preferences.sync()
        super().closeEvent(event)
