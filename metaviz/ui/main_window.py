"""The explorer window: assembles the views around one :class:`~metaviz.explorer.Explorer`
and wires menus and shortcuts. It holds no state of its own; the model does."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMessageBox

from ..config import TrainConfig
from ..explorer import Explorer
from ..learners import default_config
from .controls import ControlPanel
from .explore_view import ExploreView
from .file_actions import FileActions
from .learner_session import SessionViews
from .run_buttons import RunButtons
from .runner import JobRunner
from .settings import Preferences
from .status import StatusLine
from .task_panel import TaskPanel
from .window_layout import build_layout


def window_defaults() -> TrainConfig:
    """MAML with the paper's settings; scored on held-out tasks often enough to draw a curve."""
    return default_config("maml", eval_every=100)


class MainWindow(QMainWindow):
    """``stateChanged(state)``; ``messageShown(text)`` for every error or notice shown."""

    stateChanged = Signal(str)
    messageShown = Signal(str)

    def __init__(self, preferences: Preferences, config: TrainConfig | None = None) -> None:
        super().__init__()
        self.setWindowTitle("metaviz")
        self.preferences = preferences
        self.last_message = ""
        self.runner = JobRunner("training", self)
        self.model = Explorer(config or preferences.last_config() or window_defaults(), self.runner,
                              confirm=self.confirm)
        self.status = StatusLine()
        self.controls = ControlPanel(self.model)
        self.task_panel = TaskPanel(self.model)
        self.run_buttons = RunButtons(self.model)
        self.explore = ExploreView(self.model, self.task_panel, self.status)
        self.session = SessionViews(self.model, self)
        self.tabs = build_layout(self)
        self.files = FileActions(self)
        self.session.add_menu(self.menuBar().addMenu("&Learners"))
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.model.toggle)
        self.model.events.state.connect(lambda state: self.stateChanged.emit(state.value))
        self.model.events.message.connect(self.notify)
        self.explore.timer.timeout.connect(self.session.on_frame)
        geometry = preferences.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        self.explore.draw_now()

    @property
    def state(self) -> str:
        return self.model.state.value

    def notify(self, title: str, message: str) -> None:
        """Every error or notice reaches the user here (and ``messageShown``)."""
        self.last_message = message
        self.messageShown.emit(message)
        self.show_message(title, message)

    def show_message(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "metaviz", question)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.explore.timer.stop()
        self.model.stop()  # joins the training thread
        self.session.evaluation.shutdown()  # and any evaluation or reproduction
        self.preferences.set_geometry(self.saveGeometry())
        self.preferences.set_last_config(self.model.config)
        self.preferences.sync()
        super().closeEvent(event)
