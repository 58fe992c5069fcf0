"""The evaluation view's settings: which learners, the protocol, and the evaluation
ranges (apart from training ranges: out-of-distribution probes)."""

from __future__ import annotations

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

from ..config import MAX_MAGNITUDE, TaskConfig
from ..learners import Learner, default_config
from ..streams import EVALUATION_SEED as EVAL_SEED
from ..tasks import make_family

SHOTS = (5, 10, 20)


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
        # Built from the training family's declared parameters (rebuilt when it changes).
        self.ranges = QGridLayout()
        self.range_boxes: dict[str, QDoubleSpinBox] = {}
        self._family = None
        self._reset = QPushButton("Reset to training ranges", clicked=self.reset_ranges)
        ranges = self.ranges
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
        """The first learner's training task settings (the paper's if there is none)."""
        return next(iter(self.learners.values())).config.task if self.learners else default_config().task

    def _build_ranges(self, family) -> None:
        """One (min, max) row per range the family declares, plus x."""
        while self.ranges.count():
            widget = self.ranges.takeAt(0).widget()
            if widget is not None and widget is not self._reset:
                widget.deleteLater()
        self.range_boxes = {}
        labels = {p.name: p.label for p in family.parameters} | {"x": "x"}
        for row, name in enumerate(family.ranges):
            self.ranges.addWidget(QLabel(labels[name]), row, 0)
            for col, end in enumerate(("min", "max"), start=1):
                box = QDoubleSpinBox(decimals=3, minimum=-MAX_MAGNITUDE, maximum=MAX_MAGNITUDE, singleStep=0.1)
                self.range_boxes[f"{name}_{end}"] = box
                self.ranges.addWidget(box, row, col)
        self.ranges.addWidget(self._reset, len(family.ranges), 0, 1, 3)
        self._family = family.name

    def reset_ranges(self) -> None:
        family = make_family(self.training_ranges())
        if family.name != self._family:
            self._build_ranges(family)
        for name, (low, high) in family.ranges.items():
            self.range_boxes[f"{name}_min"].setValue(low)
            self.range_boxes[f"{name}_max"].setValue(high)

    def probe(self, base: TaskConfig) -> TaskConfig | None:
        """``base`` with the ranges typed in, or None if they are its own (not a probe).
        Raises ValueError (naming the range) if a range is empty or reversed."""
        family = make_family(base)
        probe = base
        for name, (low, high) in family.ranges.items():
            typed = (self.range_boxes[f"{name}_min"].value(), self.range_boxes[f"{name}_max"].value())
            # A box shows 3 decimals (pi reads 3.142): a value it cannot tell from the
            # training one *is* the training one, or no evaluation would match the CLI's.
            tolerance = 0.5 * 10 ** -self.range_boxes[f"{name}_min"].decimals()
            if abs(typed[0] - low) > tolerance or abs(typed[1] - high) > tolerance:
                probe = probe.with_range(name, *typed)
        return None if probe is base else probe
