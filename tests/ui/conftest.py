"""A small window per test: tiny budgets, preferences in tmp_path, every thread joined."""

from __future__ import annotations

import pytest

from metaviz.learners import default_config
from metaviz.ui.app import make_window
from metaviz.ui.settings import Preferences

TIMEOUT = 20_000  # ms: generous, never a measure of the machine's speed


def tiny_config(**changes):
    """Fast to train (meta-batch 5) and scored often, so short runs have a history."""
    base = {"iterations": 40, "eval_every": 10, "eval_tasks": 10, "meta_batch": 5}
    base.update(changes)
    return default_config(base.pop("learner", "maml"), **base)


class Dialogs:
    """Stands in for message boxes: records messages, records and answers questions."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.questions: list[str] = []
        self.answer = True


@pytest.fixture
def prefs_path(tmp_path):
    return tmp_path / "prefs.ini"


@pytest.fixture
def dialogs():
    return Dialogs()


@pytest.fixture
def open_window(qtbot, prefs_path, dialogs, monkeypatch):
    """A factory; each window is closed at teardown, which must join every thread it started."""
    from metaviz.ui.evaluation_view import EvaluationView
    from metaviz.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "show_message", lambda self, title, text: dialogs.messages.append(text))
    monkeypatch.setattr(EvaluationView, "show_box", lambda self, text: dialogs.messages.append(text))

    def confirm(self, question):
        dialogs.questions.append(question)
        return dialogs.answer

    monkeypatch.setattr(MainWindow, "confirm", confirm)
    windows = []

    def make(config="tiny", prefs=None):
        """``config=None`` starts from the saved preferences, like a real launch."""
        window = make_window(Preferences(prefs or prefs_path), tiny_config() if config == "tiny" else config)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.runner.running, "the training thread must be joined when the window closes"
        assert not window.session.evaluation.runner.running, "the evaluation thread must be joined too"


@pytest.fixture
def window(open_window):
    return open_window()


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture
def wait_state(qtbot):
    def wait(window, state, timeout=TIMEOUT):
        qtbot.waitUntil(lambda: window.state == state, timeout=timeout)

    return wait
