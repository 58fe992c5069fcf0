"""The hands: a slider with a typed value beside it, and the training control panel.

Rates are log-scaled. Rate sliders track while dragging (they apply live); sliders
that need a new model (learner, sizes, seed) only report on release, so a drag
asks at most one "reset?" question.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSlider,
    QSpinBox,
    QWidget,
)

from ..config import TrainConfig

SLIDER_TICKS = 1000
LEARNER_LABELS = {
    "maml": "MAML",
    "fomaml": "First-order MAML",
    "multitask": "Shared-feature multi-task",
    "pretrained": "Pretrained (joint training)",
}
LIVE_TIP = "Applies live: the next meta-step uses it."
RESET_TIP = "Needs a new model: changing it resets training (asks first if training has run)."


class LabeledSlider(QWidget):
    """A slider and a spin box showing the same value; ``log`` maps ticks logarithmically.

    ``valueChanged(float)`` fires once per distinct value, from either widget.
    """

    valueChanged = Signal(float)

    def __init__(self, low: float, high: float, value: float, *, log: bool = False,
                 integer: bool = False, decimals: int = 4, tracking: bool = True,
                 tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high, self.log, self.integer = low, high, log, integer
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, int(high - low) if integer else SLIDER_TICKS)
        self.slider.setTracking(tracking)
        if integer:
            self.spin: QSpinBox | QDoubleSpinBox = QSpinBox()
            self.spin.setRange(int(low), int(high))
        else:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(decimals)
            self.spin.setRange(low, high)
            self.spin.setSingleStep((high - low) / 100 if not log else 10 ** -decimals)
        self.spin.setKeyboardTracking(False)  # typed values apply on Enter, not per key
        self.spin.setMinimumWidth(90)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.setToolTip(tooltip)
        self._value = None
        self.setValue(value)
        self.slider.valueChanged.connect(lambda tick: self._set(self._from_tick(tick), emit=True))
        self.spin.valueChanged.connect(lambda v: self._set(v, emit=True))

    def value(self) -> float:
        return self._value

    def setValue(self, value: float) -> None:
        """Set without emitting (programmatic changes are not user requests)."""
        self._set(value, emit=False)

    def _from_tick(self, tick: int) -> float:
        if self.integer:
            return self.low + tick
        fraction = tick / SLIDER_TICKS
        if self.log:
            return math.exp(math.log(self.low) + fraction * (math.log(self.high) - math.log(self.low)))
        return self.low + fraction * (self.high - self.low)

    def _to_tick(self, value: float) -> int:
        if self.integer:
            return int(value - self.low)
        if self.log:
            fraction = (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            fraction = (value - self.low) / (self.high - self.low)
        return round(fraction * SLIDER_TICKS)

    def _set(self, value: float, emit: bool) -> None:
        value = min(max(value, self.low), self.high)
        value = int(round(value)) if self.integer else float(value)
        for widget, shown in ((self.slider, self._to_tick(value)), (self.spin, value)):
            widget.blockSignals(True)
            widget.setValue(shown)
            widget.blockSignals(False)
        if value != self._value:
            self._value = value
            if emit:
                self.valueChanged.emit(value)


class ControlPanel(QWidget):
    """Learner, rates, sizes, budget, seed and the test-time adaptation settings.

    Signals: ``ratesChanged(inner, meta)`` (live), ``modelChanged(field, value)`` (needs a
    reset), ``budgetChanged(int)``, ``adaptationChanged()`` (test-time lr or steps).
    """

    ratesChanged = Signal(float, float)
    modelChanged = Signal(str, object)
    budgetChanged = Signal(int)
    adaptationChanged = Signal()

    def __init__(self, config: TrainConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learner = QComboBox()
        for kind, label in LEARNER_LABELS.items():
            self.learner.addItem(label, kind)
        self.learner.setToolTip(RESET_TIP)
        self.inner_lr = LabeledSlider(1e-4, 10.0, config.inner_lr, log=True, tooltip="Inner lr (alpha). " + LIVE_TIP)
        self.meta_lr = LabeledSlider(1e-5, 10.0, config.meta_lr, log=True, decimals=5,
                                     tooltip="Meta lr (beta), peak of the cosine schedule. " + LIVE_TIP)
        self.adapt_lr = LabeledSlider(1e-4, 2.0, config.inner_lr, log=True,
                                      tooltip="Test-time adaptation lr used for the plotted task.")
        self.adapt_steps = LabeledSlider(0, 20, 1, integer=True, tooltip="Test-time adaptation steps (k).")
        self.inner_steps = LabeledSlider(1, 10, config.inner_steps, integer=True, tracking=False,
                                         tooltip="Inner steps during meta-training. " + RESET_TIP)
        self.shots = LabeledSlider(1, 50, config.shots, integer=True, tracking=False,
                                   tooltip="K support points per task. " + RESET_TIP)
        self.meta_batch = LabeledSlider(1, 500, config.meta_batch, integer=True, tracking=False,
                                        tooltip="Tasks per meta-step. " + RESET_TIP)
        self.budget = LabeledSlider(1, 100_000, config.iterations, integer=True, tracking=False,
                                    tooltip="Meta-iterations to train (applies to the current run).")
        self.seed = LabeledSlider(0, 9999, config.seed, integer=True, tracking=False,
                                  tooltip="Seed of initialisation and task stream. " + RESET_TIP)
        form = QFormLayout(self)
        for label, widget in (("Learner", self.learner), ("Inner lr \u03b1", self.inner_lr),
                              ("Meta lr \u03b2", self.meta_lr), ("Adapt lr", self.adapt_lr),
                              ("Adapt steps", self.adapt_steps), ("Train inner steps", self.inner_steps),
                              ("K shots", self.shots), ("Meta-batch", self.meta_batch),
                              ("Budget", self.budget), ("Seed", self.seed)):
            form.addRow(label, widget)
        self.set_config(config)
        self.learner.currentIndexChanged.connect(
            lambda _: self.modelChanged.emit("learner", self.learner.currentData()))
        for slider in (self.inner_lr, self.meta_lr):
            slider.valueChanged.connect(lambda _: self.ratesChanged.emit(self.inner_lr.value(), self.meta_lr.value()))
        for name in ("inner_steps", "shots", "meta_batch", "seed"):
            getattr(self, name).valueChanged.connect(lambda v, name=name: self.modelChanged.emit(name, int(v)))
        self.budget.valueChanged.connect(lambda v: self.budgetChanged.emit(int(v)))
        self.adapt_lr.valueChanged.connect(lambda _: self.adaptationChanged.emit())
        self.adapt_steps.valueChanged.connect(lambda _: self.adaptationChanged.emit())

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` without emitting any signal."""
        self.learner.blockSignals(True)
        self.learner.setCurrentIndex(self.learner.findData(config.learner))
        self.learner.blockSignals(False)
        self.inner_lr.setValue(config.inner_lr)
        self.meta_lr.setValue(config.meta_lr)
        self.inner_steps.setValue(config.inner_steps)
        self.shots.setValue(config.shots)
        self.meta_batch.setValue(config.meta_batch)
        self.budget.setValue(config.iterations)
        self.seed.setValue(config.seed)

    def config_changes(self) -> dict:
        """The TrainConfig fields this panel edits, as shown."""
        return {
            "learner": self.learner.currentData(),
            "inner_lr": self.inner_lr.value(),
            "meta_lr": self.meta_lr.value(),
            "inner_steps": int(self.inner_steps.value()),
            "shots": int(self.shots.value()),
            "meta_batch": int(self.meta_batch.value()),
            "iterations": int(self.budget.value()),
            "seed": int(self.seed.value()),
        }
