"""Buttons and sliders that pick, edit and display the task on the plot."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGridLayout, QPushButton, QWidget

from ..config import TaskConfig
from .controls import LabeledSlider
from .task_browser import TaskSample


class TaskPanel(QWidget):
    """Previous / next / new task, resample, clear, a hand-made amplitude and phase,
    and what to draw. The window owns the :class:`TaskHistory`; this only asks."""

    previousRequested = Signal()
    nextRequested = Signal()
    newRequested = Signal()
    resampleRequested = Signal()
    clearRequested = Signal()
    taskEdited = Signal(float, float)  # amplitude, phase
    displayChanged = Signal()

    def __init__(self, task: TaskConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.previous = QPushButton("\u25c0 Previous")
        self.next = QPushButton("Next \u25b6")
        self.new = QPushButton("New random task")
        self.resample = QPushButton("Resample points")
        self.clear = QPushButton("Clear points")
        self.clear.setToolTip("Remove every support point. On the plot, a left click adds one "
                              "and a right click removes the nearest.")
        self.amplitude = LabeledSlider(task.amp_min, task.amp_max, task.amp_min, decimals=2,
                                       tooltip="Amplitude of a hand-made task.")
        self.phase = LabeledSlider(task.phase_min, task.phase_max, task.phase_min, decimals=2,
                                   tooltip="Phase of a hand-made task.")
        self.show_query = QCheckBox("Show query points")
        self.show_steps = QCheckBox("Show every step")
        self.show_steps.setChecked(True)
        buttons = QGridLayout()
        buttons.addWidget(self.previous, 0, 0)
        buttons.addWidget(self.next, 0, 1)
        buttons.addWidget(self.new, 1, 0, 1, 2)
        buttons.addWidget(self.resample, 2, 0)
        buttons.addWidget(self.clear, 2, 1)
        form = QFormLayout(self)
        form.addRow(buttons)
        form.addRow("Amplitude", self.amplitude)
        form.addRow("Phase", self.phase)
        form.addRow(self.show_query)
        form.addRow(self.show_steps)
        self.previous.clicked.connect(self.previousRequested)
        self.next.clicked.connect(self.nextRequested)
        self.new.clicked.connect(self.newRequested)
        self.resample.clicked.connect(self.resampleRequested)
        self.clear.clicked.connect(self.clearRequested)
        for slider in (self.amplitude, self.phase):
            slider.valueChanged.connect(lambda _: self.taskEdited.emit(self.amplitude.value(), self.phase.value()))
        self.show_query.toggled.connect(self.displayChanged)
        self.show_steps.toggled.connect(self.displayChanged)

    def show_task(self, sample: TaskSample, can_go_back: bool, can_go_forward: bool) -> None:
        """Reflect the current task without emitting ``taskEdited``."""
        self.amplitude.setValue(sample.amplitude)
        self.phase.setValue(sample.phase)
        self.previous.setEnabled(can_go_back)
        self.next.setEnabled(can_go_forward)
