"""Buttons and sliders that pick, edit and display the task on the plot.

The hand-made-task sliders are built from the family's declared parameters (amplitude
and phase for sinusoids, whatever a plugin family declares) and rebuilt when the
family changes; a task drawn by hand has no parameters, so they are disabled while it
is shown. Edits go to the :class:`~metaviz.explorer.Explorer`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGridLayout, QPushButton, QToolButton, QWidget

from ..adaptation import oracle_available
from ..explorer import Explorer
from ..samples import why_no_samples
from .controls import LabeledSlider

DRAW_TIP = ("Draw the truth: drag across the plot to draw a ground-truth curve of your own. K points are "
            "sampled on it and every learner adapts to it (Explore and Compare). Clicks add no points "
            "while this is on.")
SAMPLES_TIP = ("Draw a few functions from the learner's posterior: each is a task it thinks this could be. "
               "They agree near the triangles and spread where it has seen nothing.")
ORACLE_TIP = ("Draw the family's oracle from these points: the best possible answer where it is exact, "
              "else a least-squares fit of the true form (the legend says which), with its \u00b1 2 std band "
              "where it has one; its MSE is in the title.")
DRAWN_TIP = "A drawn task has no parameters: a new random task brings these sliders back."


class TaskPanel(QWidget):
    """Previous / next / new task, resample, clear, draw the truth, the family's parameter
    sliders, and what to draw (``show_query``, ``show_steps``, ``show_samples``,
    ``show_oracle``: read by the explore view)."""

    def __init__(self, model: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.previous = QPushButton("\u25c0 Previous", clicked=model.previous_task)
        self.next = QPushButton("Next \u25b6", clicked=model.next_task)
        self.new = QPushButton("New random task", clicked=model.new_task)
        self.resample = QPushButton("Resample points", clicked=model.resample)
        self.clear = QPushButton("Clear points", clicked=model.clear_points)
        self.clear.setToolTip("Remove every support point. On the plot, a left click adds one "
                              "and a right click removes the nearest.")
        self.draw_truth = QToolButton()
        self.draw_truth.setText("\u270e Draw the truth")
        self.draw_truth.setCheckable(True)
        self.draw_truth.setToolTip(DRAW_TIP)
        self.show_query = QCheckBox("Show query points")
        self.show_query.setToolTip("Query points (circles): more points of the same task, never used for "
                                   "adaptation; held-out MSE is measured on points like these.")
        self.show_steps = QCheckBox("Show every step")
        self.show_steps.setChecked(True)
        self.show_steps.setToolTip("Draw the prediction after each step between pre-update (dashed) and "
                                   "the last step (solid), on a blue-to-red ramp.")
        self.show_samples = QCheckBox("Show function samples")
        self.show_oracle = QCheckBox("Show best possible")
        self.show_oracle.setChecked(True)
        for button, tip in ((self.previous, "The previous task you looked at"),
                            (self.next, "The next task in your history"),
                            (self.new, "A new task drawn at random from the family, with K points"),
                            (self.resample, "New support points (K of them) on the same task")):
            button.setToolTip(tip)
        buttons = QGridLayout()
        buttons.addWidget(self.previous, 0, 0)
        buttons.addWidget(self.next, 0, 1)
        buttons.addWidget(self.new, 1, 0)
        buttons.addWidget(self.draw_truth, 1, 1)
        buttons.addWidget(self.resample, 2, 0)
        buttons.addWidget(self.clear, 2, 1)
        self.draw_truth.setSizePolicy(self.new.sizePolicy())
        self.form = QFormLayout(self)
        self.form.addRow(buttons)
        for box in (self.show_query, self.show_steps, self.show_samples, self.show_oracle):
            self.form.addRow(box)
        self.sliders: dict[str, LabeledSlider] = {}
        self._family = None
        model.events.task.connect(self.refresh)
        model.events.model.connect(self.refresh)
        self.refresh()

    def _build_sliders(self) -> None:
        """One slider per task parameter of the current family."""
        for slider in self.sliders.values():
            self.form.removeRow(slider)
        family = self.model.history.family
        self.sliders = {}
        self._tips: dict[str, str] = {}
        for row, p in enumerate(family.parameters, start=1):
            low, high = family.ranges[p.name]
            self._tips[p.name] = f"{p.label} of a hand-made task" + (f": {p.help}" if p.help else "")
            slider = LabeledSlider(low, high, low, decimals=2, tooltip=self._tips[p.name])
            slider.valueChanged.connect(self._on_edit)
            self.form.insertRow(row, p.label, slider)
            self.sliders[p.name] = slider
        self._family = family

    def _on_edit(self, _value: float) -> None:
        self.model.set_task_params([slider.value() for slider in self.sliders.values()])

    def refresh(self) -> None:
        """Reflect the current task and learner without emitting edits."""
        history = self.model.history
        if history.family is not self._family:
            self._build_sliders()
        sample = history.current
        drawn = sample.drawn is not None
        for slider, value in zip(self.sliders.values(), sample.params):
            slider.setValue(value)
        for name, slider in self.sliders.items():
            slider.setEnabled(not drawn)
            slider.setToolTip(DRAWN_TIP if drawn else self._tips[name])
        self.previous.setEnabled(history.can_go_back())
        self.next.setEnabled(history.can_go_forward())
        learner = self.model.view_learner
        missing = why_no_samples(learner, self.model.spec.label)
        self.show_samples.setEnabled(not missing)
        self.show_samples.setToolTip(missing or SAMPLES_TIP)
        missing = oracle_available(sample)
        self.show_oracle.setEnabled(not missing)
        self.show_oracle.setToolTip(f"Not available: {missing}." if missing else ORACLE_TIP)
