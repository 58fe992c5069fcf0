"""Where the explorer's widgets sit: tabs of plots on the left, the hands on the right
(in a scroll area, so a laptop screen of 1280x720 reaches every control)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget


def build_layout(window) -> QTabWidget:
    """Place ``window``'s views and panels; returns the tab widget."""
    training = QGroupBox("Training")
    box = QVBoxLayout(training)
    box.addWidget(window.run_buttons)
    box.addWidget(window.controls)
    tasks = QGroupBox("Task")
    QVBoxLayout(tasks).addWidget(window.task_panel)
    learners = QGroupBox("Learners in this session")
    QVBoxLayout(learners).addWidget(window.session.panel)
    learners.setMinimumHeight(160)
    side_content = QWidget()
    side_layout = QVBoxLayout(side_content)
    side_layout.addWidget(training)
    side_layout.addWidget(tasks)
    side_layout.addWidget(learners, 1)
    side = QScrollArea()
    side.setWidget(side_content)
    side.setWidgetResizable(True)
    side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # Wide enough that no control is cut off: only vertical scrolling.
    side.setMinimumWidth(side_content.minimumSizeHint().width() + side.verticalScrollBar().sizeHint().width() + 4)
    tabs = QTabWidget()
    tabs.addTab(window.explore, "Explore")
    window.session.attach_tabs(tabs, side)
    main = QSplitter(Qt.Orientation.Horizontal)
    main.addWidget(tabs)
    main.addWidget(side)
    main.setStretchFactor(0, 1)
    main.setStretchFactor(1, 0)  # a narrower window takes its width from the plots, not the controls
    main.setSizes([1000, side.minimumWidth() + 30])
    window.setCentralWidget(main)
    window.statusBar().addPermanentWidget(window.status, 1)
    return tabs
