"""A minimal Qt-free observer: the explorer model's per-field events (napari-style).

Views connect callables; the model emits. Everything runs in the caller's thread (the
GUI thread in the window), so a callback may touch widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class EventEmitter:
    """``connect(callback)``, ``disconnect(callback)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class ExplorerEvents:
    """One emitter per thing that changes; views listen to the ones they draw.

    - ``state(RunState)``: the run state changed.
    - ``model()``: the active learner was replaced (new, reset, switched, loaded).
    - ``progress(TrainingProgress)``: training advanced (history appended).
    - ``task()``: the current task or its points changed.
    - ``settings()``: the settings changed (e.g. rates, budget) without a new model.
    - ``adaptation()``: test-time steps or rate changed.
    - ``library()``: the session's learners changed (added, renamed, dropped).
    - ``message(title, text)``: something the user must read (an error, a divergence).
    """

    def __init__(self) -> None:
        for name in ("state", "model", "progress", "task", "settings", "adaptation", "library", "message"):
            setattr(self, name, EventEmitter())
