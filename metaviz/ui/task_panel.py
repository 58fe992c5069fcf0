"""Buttons and sliders that pick, edit and display the task on the plot.

The hand-made-task sliders are built from the family's declared parameters (amplitude
and phase for sinusoids, whatever a plugin family declares) and rebuilt when the
family changes. Edits go to the :class:`~metaviz.explorer.Explorer`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGridLayout, QPushButton, QWidget

from ..explorer import Explorer
from .controls import LabeledSlider


class TaskPanel(QWidget):
    """Previous / next / new task, resample, clear, the family's parameter sliders, and
    what to draw (``show_query``, ``show_steps``: read by the explore view)."""

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
        self.show_query = QCheckBox("Show query points")
        self.show_query.setToolTip("Query points (circles): more points of the same task, never used for "
                                   "adaptation; held-out MSE is measured on points like these.")
        self.show_steps = QCheckBox("Show every step")
        self.show_steps.setChecked(True)
        self.show_steps.setToolTip("Draw the prediction after each step between pre-update (dashed) and "
                                   "the last step (solid), on a blue-to-red ramp.")
        for button, tip in ((self.previous, "The previous task you looked at"),
                            (self.next, "The next task in your history"),
                            (self.new, "A new task drawn at random from the family, with K points"),
                            (self.resample, "New support points (K of them) on the same task")):
            button.setToolTip(tip)
        buttons = QGridLayout()
        buttons.addWidget(self.previous, 0, 0)
        buttons.addWidget(self.next, 0, 1)
        buttons.addWidget(self.new, 1, 0, 1, 2)
        buttons.addWidget(self.resample, 2, 0)
        buttons.addWidget(self.clear, 2, 1)
        self.form = QFormLayout(self)
        self.form.addRow(buttons)
        self.form.addRow(self.show_query)
        self.form.addRow(self.show_steps)
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
        for row, p in enumerate(family.parameters, start=1):
            low, high = family.ranges[p.name]
            slider = LabeledSlider(low, high, low, decimals=2,
                                   tooltip=f"{p.label} of a hand-made task" + (f": {p.help}" if p.help else ""))
            slider.valueChanged.connect(self._on_edit)
            self.form.insertRow(row, p.label, slider)
            self.sliders[p.name] = slider
        self._family = family

    def _on_edit(self, _value: float) -> None:
        self.model.set_task_params([slider.value() for slider in self.sliders.values()])

    def refresh(self) -> None:
        """Reflect the current task without emitting edits."""
        history = self.model.history
        if history.family is not self._family:
            self._build_sliders()
        for slider, value in zip(self.sliders.values(), history.current.params):
            slider.setValue(value)
        self.previous.setEnabled(history.can_go_back())
        self.next.setEnabled(history.can_go_forward())
