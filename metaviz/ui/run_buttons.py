"""Start / Pause / Resume / Step / Stop / Reset, enabled by the model's run state."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QPushButton, QWidget

from ..explorer import Explorer, RunState

BUTTONS = (
    ("start", "Start", "Start training (Space)"),
    ("pause", "Pause", "Pause (Space)"),
    ("resume", "Resume", "Resume (Space)"),
    ("step", "Step", "Exactly one meta-iteration, then paused"),
    ("stop", "Stop", "Stop; Start continues the same model"),
    ("reset", "Reset", "A fresh model with the current settings (asks first if trained)"),
)


class RunButtons(QWidget):
    """``buttons[name]`` for each of :data:`BUTTONS`; each calls the model method of its name."""

    def __init__(self, model: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout(self)  # two rows of three: narrow enough for a laptop's side panel
        grid.setContentsMargins(0, 0, 0, 0)
        for index, (name, label, tip) in enumerate(BUTTONS):
            button = QPushButton(label, toolTip=tip)
            button.clicked.connect(getattr(model, name))
            self.buttons[name] = button
            grid.addWidget(button, index // 3, index % 3)
        model.events.state.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args) -> None:
        state, done = self.model.state, self.model.trainer.done
        b = self.buttons
        b["start"].setEnabled(state in (RunState.IDLE, RunState.DONE) and not done)
        b["pause"].setEnabled(state is RunState.TRAINING)
        b["resume"].setEnabled(state in (RunState.PAUSED, RunState.DIVERGED))
        b["step"].setEnabled(state is not RunState.TRAINING and not done)
        b["stop"].setEnabled(state in (RunState.TRAINING, RunState.PAUSED))
