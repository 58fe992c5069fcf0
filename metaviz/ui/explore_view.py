"""The Explore tab: the task plot (the MAML paper's figure, live) above the training
curves, and the status line; painted from the explorer model on a timer.

The view keeps only the latest published parameters (in the model) and repaints at
most every ``FRAME_MS``: a slow screen drops frames, it never queues them.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QSplitter

from ..adaptation import SAMPLE_COUNT
from ..explorer import Explorer, RunState
from .plots import TaskPlot
from .status import RateMeter, StatusLine
from .task_panel import TaskPanel
from .training_plot import TrainingPlot

FRAME_MS = 25  # repaint timer: a user's edit is drawn within 50 ms
# Training progress is drawn at most this often: every frame costs the GUI thread
# Python time, which it shares with the worker through the GIL.
TRAINING_FRAME_S = 0.2
CURVES_FRAME_S = 1.0  # the training curves grow slowly: redraw them less often still


class ExploreView(QSplitter):
    """Draws ``model``; ``task_panel`` says what to show (query points, every step)."""

    def __init__(self, model: Explorer, task_panel: TaskPanel, status: StatusLine) -> None:
        super().__init__(Qt.Orientation.Vertical)
        self.model = model
        self.task_panel = task_panel
        self.status = status
        self.task_plot = TaskPlot()
        self.training_plot = TrainingPlot()
        self.addWidget(self.task_plot)
        self.addWidget(self.training_plot)
        self.setSizes([560, 300])
        self.rate = RateMeter()
        self.view = None  # the AdaptationView drawn last (tests and exports read it)
        self.oracle = None  # the OracleView drawn last (None: none drawn)
        self._dirty = True  # a user edit: draw on the next tick
        self._progress = False  # new training progress: draw when TRAINING_FRAME_S has passed
        self._last_draw = self._last_curves = 0.0
        events = model.events
        events.progress.connect(self._on_progress)
        events.model.connect(self._on_model)
        for event in (events.task, events.adaptation, events.state, events.settings):
            event.connect(self.mark_dirty)
        for box in (task_panel.show_query, task_panel.show_steps, task_panel.show_samples, task_panel.show_oracle):
            box.toggled.connect(self.mark_dirty)
        task_panel.draw_truth.toggled.connect(self._on_draw_mode)
        self.task_plot.clicked.connect(self._on_click)
        self.task_plot.truth_drawn.connect(self._on_drawn)
        self._on_model()
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.repaint_if_dirty)
        self.timer.start()

    def _on_model(self) -> None:
        """A new active learner: its history, its family's ranges."""
        self.training_plot.clear_history()
        self.training_plot.append(self.model.losses, self.model.validations)
        family = self.model.history.family
        self.task_plot.set_ranges(*family.ranges["x"], family.y_bound())
        self.rate.reset()
        self.mark_dirty()

    def _on_progress(self, progress) -> None:
        self.training_plot.append(progress.losses, progress.validations)
        self.rate.update(progress.snapshot.iteration)
        self._progress = True

    def _on_click(self, x: float, y: float, button) -> None:
        if button == Qt.MouseButton.LeftButton:
            self.model.add_point(x, y)
        elif button == Qt.MouseButton.RightButton:
            self.model.remove_nearest(x, y, self.task_plot.y_scale())

    def _on_draw_mode(self, on: bool) -> None:
        self.task_plot.set_draw_mode(on)
        self.mark_dirty()

    def _on_drawn(self, xs, ys) -> None:
        """A stroke on the plot in draw mode: it becomes the truth of a new task (one
        drawing per press of the button; a stroke with no width leaves the mode on)."""
        try:
            self.model.draw_truth(xs, ys)
        except ValueError:
            return
        self.task_panel.draw_truth.setChecked(False)

    def hint(self) -> str:
        """What a newcomer should know now: how to draw in draw mode; how to add points
        when there are none; how to start while the model is untrained and idle; nothing
        otherwise."""
        if self.task_plot.draw_mode:
            return "Drag across the plot to draw the truth: K points are sampled on it"
        if self.model.history.current.shots == 0:
            return "Click on the plot to add points (right-click removes one)"
        if self.model.iteration == 0 and self.model.state is RunState.IDLE:
            return "Space trains \u00b7 click to add points \u00b7 Help \u25b8 Guided tour explains the figure"
        return ""

    def mark_dirty(self, *_args) -> None:
        self._dirty = True

    def draw_now(self) -> None:
        """Draw the latest state at once (before an export or a screenshot)."""
        self.mark_dirty()
        self.repaint_if_dirty()

    def repaint_if_dirty(self) -> None:
        """Timer tick: draw the latest state once, however many updates arrived."""
        now = time.monotonic()
        model = self.model
        if not (self._dirty or self._progress and now - self._last_draw >= TRAINING_FRAME_S):
            return
        training = model.state is RunState.TRAINING
        if self._dirty or now - self._last_curves >= CURVES_FRAME_S or not training:
            self.training_plot.refresh()
            self._last_curves = now
        self._dirty = self._progress = False
        self._last_draw = now
        panel = self.task_panel
        samples = SAMPLE_COUNT if panel.show_samples.isChecked() and panel.show_samples.isEnabled() else 0
        self.view = model.adaptation_view(samples=samples)
        self.oracle = model.oracle_view() if panel.show_oracle.isChecked() else None
        self.task_plot.draw(self.view, model.history.current, panel.show_query.isChecked(),
                            panel.show_steps.isChecked(), self.oracle)
        self.task_plot.set_hint(self.hint())
        snapshot, trainer = model.snapshot, model.trainer
        elapsed = snapshot.elapsed if snapshot else trainer.elapsed
        iteration = model.iteration
        # While training: the measured wall-clock rate; otherwise the run's average.
        rate = self.rate.rate if training else iteration / elapsed if elapsed > 0 else 0.0
        budget = snapshot.budget if snapshot and model.running else model.config.iterations
        self.status.show_status(model.config.learner, iteration, budget, rate, elapsed, model.state.value)
