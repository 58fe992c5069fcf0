"""The explorer window: assembles the views around one :class:`~metaviz.explorer.Explorer`
and wires menus and shortcuts. It holds no state of its own; the model does."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMessageBox

from ..config import TrainConfig
from ..devices import device_label
from ..explorer import Explorer
from ..learners import default_config
from ..session_store import SessionStore
from .controls import ControlPanel
from .explore_view import ExploreView
from .file_actions import FileActions
from .learner_session import SessionViews
from .run_buttons import RunButtons
from .runner import JobRunner
from .settings import Preferences
from .status import StatusLine
from .task_panel import TaskPanel
from .tour import GuidedTour
from .window_layout import build_layout


def window_defaults() -> TrainConfig:
    """MAML with the paper's settings; scored on held-out tasks often enough to draw a curve."""
    return default_config("maml", eval_every=100)


class MainWindow(QMainWindow):
    """``stateChanged(state)``; ``messageShown(text)`` for every error or notice shown."""

    stateChanged = Signal(str)
    messageShown = Signal(str)

    def __init__(self, preferences: Preferences, config: TrainConfig | None = None, device: str = "auto") -> None:
        super().__init__()
        self.setWindowTitle("metaviz")
        self.preferences = preferences
        self.last_message = ""
        self.runner = JobRunner("training", self)
        self.model = Explorer(config or preferences.last_config() or window_defaults(), self.runner,
                              confirm=self.confirm, device=device)
        self.status = StatusLine()
        self.controls = ControlPanel(self.model)
        self.task_panel = TaskPanel(self.model)
        self.run_buttons = RunButtons(self.model)
        self.explore = ExploreView(self.model, self.task_panel, self.status)
        self.session = SessionViews(self.model, self, SessionStore(preferences.data_folder() / "session"))
        self.tabs = build_layout(self)
        self.files = FileActions(self)
        self.session.add_menu(self.menuBar().addMenu("&Learners"))
        self.tour: GuidedTour | None = None
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("Guided tour\u2026", self.show_tour)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.model.toggle)
        self.model.events.state.connect(lambda state: self.stateChanged.emit(state.value))
        self.model.events.state.connect(self._show_device)  # the active learner decides (cpu-only ones)
        self._show_device()
        self.model.events.message.connect(self.notify)
        self.explore.timer.timeout.connect(self.session.on_frame)
        geometry = preferences.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        # The learners kept by the last session come back; a real launch (no config given)
        # also makes the one that was active active again.
        problems = preferences.problems + self.session.restore(activate=config is None)
        self.explore.draw_now()
        if problems:  # after the window is up: a launch never blocks on a dialog
            QTimer.singleShot(0, lambda: self.notify("metaviz started with a problem", "\n\n".join(problems)))

    def show_tour(self) -> GuidedTour:
        """Help menu: the guided tour, from its first step."""
        if self.tour is None:
            self.tour = GuidedTour(self)
        self.tour.go(0)
        self.tour.show()
        return self.tour

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
        """Quitting keeps every trained learner for the next launch (asks if it cannot)."""
        self.explore.timer.stop()
        self.model.stop()  # joins the training thread (its iterations so far are kept)
        self.session.evaluation.shutdown()  # and any evaluation or reproduction
        if not self.session.persist():
            self.explore.timer.start()
            event.ignore()
            return
        if self.tour is not None:
            self.tour.close()
        self.preferences.set_geometry(self.saveGeometry())
        self.preferences.set_last_config(self.model.config)
        self.preferences.sync()
        super().closeEvent(event)

    def _show_device(self, *_state) -> None:
        self.status.show_device(device_label(self.model.training_device))
