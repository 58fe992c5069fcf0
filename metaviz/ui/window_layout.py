"""Where the explorer's widgets sit: tabs of plots on the left, the hands on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

BUTTONS = (
    ("start", "Start", "Start training (Space)"),
    ("pause", "Pause", "Pause (Space)"),
    ("resume", "Resume", "Resume (Space)"),
    ("step", "Step", "Exactly one meta-iteration, then paused"),
    ("stop", "Stop", "Stop; Start continues the same model"),
    ("reset", "Reset", "A fresh model with the current settings"),
)


def build_layout(window) -> dict[str, QPushButton]:
    """Place ``window``'s plots, panels and status line; returns the run buttons by name."""
    buttons = {}
    row = QHBoxLayout()
    for name, label, tip in BUTTONS:
        button = QPushButton(label)
        button.setToolTip(tip)
        buttons[name] = button
        row.addWidget(button)
    training = QGroupBox("Training")
    box = QVBoxLayout(training)
    box.addLayout(row)
    box.addWidget(window.controls)
    tasks = QGroupBox("Task")
    QVBoxLayout(tasks).addWidget(window.task_panel)
    learners = QGroupBox("Learners in this session")
    QVBoxLayout(learners).addWidget(window.session.panel)
    side = QWidget()
    side_layout = QVBoxLayout(side)
    side_layout.addWidget(training)
    side_layout.addWidget(tasks)
    side_layout.addWidget(learners, 1)
    side.setMinimumWidth(420)
    plots = QSplitter(Qt.Orientation.Vertical)
    plots.addWidget(window.task_plot)
    plots.addWidget(window.training_plot)
    plots.setSizes([560, 300])
    tabs = QTabWidget()
    tabs.addTab(plots, "Explore")
    window.session.attach_tabs(tabs, side)
    main = QSplitter(Qt.Orientation.Horizontal)
    main.addWidget(tabs)
    main.addWidget(side)
    main.setStretchFactor(0, 1)
    main.setSizes([980, 420])
    window.setCentralWidget(main)
    window.statusBar().addPermanentWidget(window.status, 1)
    return buttons
