"""The evaluation view's settings: which learners, the protocol, and the evaluation
ranges (apart from training ranges: out-of-distribution probes)."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..config import TaskConfig, default_config
from ..evaluation import EVAL_SEED
from ..learners.base import Learner

SHOTS = (5, 10, 20)
RANGES = (("amp", "amplitude"), ("phase", "phase"), ("x", "x"))


def group(title: str, content) -> QGroupBox:
    """A titled box around a widget or a layout."""
    box = QGroupBox(title)
    if isinstance(content, QWidget):
        layout = QVBoxLayout()
        layout.addWidget(content)
        content = layout
    box.setLayout(content)
    return box


def _spin(box, low, high, value, tip):
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class ProtocolForm(QWidget):
    """Learners to evaluate (checkable), tasks / steps / K / seed / optional test-time lr,
    and the evaluation ranges with a reset to the training ones."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learners: dict[str, Learner] = {}
        self.learner_list = QListWidget()
        self.tasks = _spin(QSpinBox(), 2, 100_000, 600, "held-out tasks per K")
        self.steps = _spin(QSpinBox(), 0, 100, 10, "adaptation steps scored (0 = before adapting)")
        self.seed = _spin(QSpinBox(), 0, 2**31 - 1, EVAL_SEED, "the evaluation stream (apart from training)")
        self.shot_boxes = {k: QCheckBox(f"K={k}", checked=True) for k in SHOTS}
        self.use_lr = QCheckBox("test-time lr", toolTip="unchecked: each learner's own rate for each K")
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=10.0, singleStep=0.001, value=0.01, enabled=False)
        self.use_lr.toggled.connect(self.lr.setEnabled)
        protocol = QFormLayout()
        protocol.addRow("tasks", self.tasks)
        protocol.addRow("steps", self.steps)
        shots = QHBoxLayout()
        for box in self.shot_boxes.values():
            shots.addWidget(box)
        protocol.addRow("shots", shots)
        protocol.addRow("seed", self.seed)
        protocol.addRow(self.use_lr, self.lr)
        ranges = QGridLayout()
        self.range_boxes: dict[str, QDoubleSpinBox] = {}
        for row, (key, label) in enumerate(RANGES):
            ranges.addWidget(QLabel(label), row, 0)
            for col, end in enumerate(("min", "max"), start=1):
                box = QDoubleSpinBox(decimals=3, minimum=-100.0, maximum=100.0, singleStep=0.1)
                self.range_boxes[f"{key}_{end}"] = box
                ranges.addWidget(box, row, col)
        ranges.addWidget(QPushButton("Reset to training ranges", clicked=self.reset_ranges), len(RANGES), 0, 1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for title, content in (("Learners", self.learner_list), ("Protocol", protocol),
                               ("Evaluation ranges (out-of-distribution probe)", ranges)):
            layout.addWidget(group(title, content))
        self.reset_ranges()

    def set_learners(self, learners: dict[str, Learner]) -> None:
        """Offer ``learners`` (name -> learner), all checked; the ranges reset to theirs."""
        self.learners = dict(learners)
        self.learner_list.clear()
        for name, learner in self.learners.items():
            item = QListWidgetItem(f"{name}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{learner.kind}, {learner.iteration} iterations")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.learner_list.addItem(item)
        self.reset_ranges()

    def checked_learners(self) -> list[str]:
        items = (self.learner_list.item(i) for i in range(self.learner_list.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def checked_shots(self) -> list[int]:
        return [k for k, box in self.shot_boxes.items() if box.isChecked()]

    def test_lr(self) -> float | None:
        return self.lr.value() if self.use_lr.isChecked() else None

    def training_ranges(self) -> TaskConfig:
        """The first learner's training task family (the paper's if there is none)."""
        return next(iter(self.learners.values())).config.task if self.learners else default_config().task

    def reset_ranges(self) -> None:
        task = self.training_ranges()
        for name, box in self.range_boxes.items():
            box.setValue(getattr(task, name))

    def probe(self, base: TaskConfig) -> TaskConfig | None:
        """``base`` with the ranges typed in, or None if they are its own (not a probe).
        Raises ValueError (naming the range) if a range is empty or reversed."""
        changes = {}
        for name, box in self.range_boxes.items():
            # A box shows 3 decimals (pi reads 3.142): a value it cannot tell from the
            # training one *is* the training one, or no evaluation would match the CLI's.
            if abs(box.value() - getattr(base, name)) > 0.5 * 10 ** -box.decimals():
                changes[name] = box.value()
        return dataclasses.replace(base, **changes) if changes else None
