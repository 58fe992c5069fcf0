"""The hands: a slider with a typed value beside it, and the training control panel.

The learner and family selectors are filled from the registries (plugins included).

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
    QSizePolicy,
    QSlider,
    QSpinBox,
    QWidget,
)

from ..explorer import Explorer
from ..learners.registry import LEARNER_REGISTRY, OPTIONAL_SETTINGS
from ..tasks import FAMILY_REGISTRY

SLIDER_TICKS = 1000
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
        # Never squashed below a readable height: a short screen scrolls the panel instead.
        self.spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.slider.setMinimumWidth(60)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.setToolTip(tooltip)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
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
    """Learner, rates, sizes, budget, seed and the test-time adaptation settings of an
    :class:`~metaviz.explorer.Explorer`. Edits go to the model; the panel redraws when
    the model changes. Only the controls the selected learner reads are enabled."""

    def __init__(self, model: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        config = model.config
        self.learner = QComboBox()
        for spec in LEARNER_REGISTRY.items():
            self.learner.addItem(spec.label, spec.name)
            self.learner.setItemData(self.learner.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.learner.setToolTip("The learner to train and show. Switching keeps the one you trained "
                                "(see \"Learners in this session\").")
        self.family = QComboBox()
        for cls in FAMILY_REGISTRY.items():
            self.family.addItem(cls.label, cls.name)
            self.family.setItemData(self.family.count() - 1, cls.description, Qt.ItemDataRole.ToolTipRole)
        self.family.setToolTip("The family of tasks to meta-train on and explore. " + RESET_TIP)
        for combo in (self.learner, self.family):  # a long name must not widen the whole panel
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.inner_lr = LabeledSlider(1e-4, 10.0, config.inner_lr, log=True,
                                      tooltip="Inner lr \u03b1 (alpha): the step size of the per-task gradient "
                                              "steps inside meta-training (the paper's \u03b1 = 0.01). " + LIVE_TIP)
        self.meta_lr = LabeledSlider(1e-5, 10.0, config.meta_lr, log=True, decimals=5,
                                     tooltip="Meta lr \u03b2 (beta): the step size of the outer (Adam) update of "
                                             "the starting point, peak of a cosine schedule. " + LIVE_TIP)
        self.adapt_lr = LabeledSlider(1e-4, 2.0, model.adapt_lr, log=True,
                                      tooltip="Adapt lr: the step size of the test-time gradient steps drawn on "
                                              "the plot (not used in training; for the multi-task model, a "
                                              "multiplier on exact steps). Applies at once.")
        self.adapt_steps = LabeledSlider(0, 20, model.adapt_steps, integer=True,
                                         tooltip="Adapt steps k: how many gradient steps on the triangles the plot "
                                                 "draws (0: only the pre-update prediction). Applies at once.")
        self.inner_steps = LabeledSlider(1, 10, config.inner_steps, integer=True, tracking=False,
                                         tooltip="Train inner steps: gradient steps per task inside each meta-"
                                                 "training step (the plot's Adapt steps may differ). " + RESET_TIP)
        self.shots = LabeledSlider(1, 50, config.shots, integer=True, tracking=False,
                                   tooltip="K shots: support points per task while meta-training (the "
                                           "training K). The plotted task starts with the same K; points you "
                                           "click or remove change only the plotted K, shown above the plot. "
                                           + RESET_TIP)
        self.meta_batch = LabeledSlider(1, 500, config.meta_batch, integer=True, tracking=False,
                                        tooltip="Meta-batch: tasks per meta-training step. " + RESET_TIP)
        self.budget = LabeledSlider(1, 100_000, config.iterations, integer=True, tracking=False,
                                    tooltip="Budget: meta-iterations to train to (applies to the current run).")
        self.seed = LabeledSlider(0, 9999, config.seed, integer=True, tracking=False,
                                  tooltip="Seed of initialisation and task stream. " + RESET_TIP)
        form = QFormLayout(self)
        for label, widget in (("Learner", self.learner), ("Tasks", self.family), ("Inner lr \u03b1", self.inner_lr),
                              ("Meta lr \u03b2", self.meta_lr), ("Adapt lr", self.adapt_lr),
                              ("Adapt steps", self.adapt_steps), ("Train inner steps", self.inner_steps),
                              ("K shots", self.shots), ("Meta-batch", self.meta_batch),
                              ("Budget", self.budget), ("Seed", self.seed)):
            form.addRow(label, widget)
        self.refresh()
        # No to "stop the run?": the selector shows the learner that goes on training.
        self.learner.currentIndexChanged.connect(
            lambda _: model.switch_learner(self.learner.currentData()) or self.refresh())
        self.family.currentIndexChanged.connect(lambda _: self._change("family", self.family.currentData()))
        for slider in (self.inner_lr, self.meta_lr):
            slider.valueChanged.connect(lambda _: model.set_rates(self.inner_lr.value(), self.meta_lr.value()))
        for name in ("inner_steps", "shots", "meta_batch", "seed"):
            getattr(self, name).valueChanged.connect(lambda v, name=name: self._change(name, int(v)))
        self.budget.valueChanged.connect(lambda v: model.set_budget(int(v)))
        self.adapt_lr.valueChanged.connect(lambda v: model.set_adaptation(lr=v))
        self.adapt_steps.valueChanged.connect(lambda v: model.set_adaptation(steps=int(v)))
        model.events.model.connect(self.refresh)
        model.events.settings.connect(self.refresh)

    def _change(self, name: str, value) -> None:
        if not self.model.change_setting(name, value):
            self.refresh()  # the user kept the model: show its settings again

    def refresh(self) -> None:
        """Show the model's settings without emitting anything."""
        config, model = self.model.config, self.model
        for combo, value in ((self.learner, config.learner), (self.family, config.task.family)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self.inner_lr.setValue(config.inner_lr)
        self.meta_lr.setValue(config.meta_lr)
        self.inner_steps.setValue(config.inner_steps)
        self.shots.setValue(config.shots)
        self.meta_batch.setValue(config.meta_batch)
        self.budget.setValue(config.iterations)
        self.seed.setValue(config.seed)
        self.adapt_lr.setValue(model.adapt_lr)
        self.adapt_steps.setValue(model.adapt_steps)
        uses = model.spec.uses
        for name in OPTIONAL_SETTINGS & {"inner_lr", "inner_steps", "adapt_lr"}:
            getattr(self, name).setEnabled(name in uses)
