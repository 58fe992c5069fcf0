"""The session's learners in the window: the list panel, the Compare and Evaluate tabs,
wired to the explorer model (which owns the library). GUI thread only."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QTabWidget

from ..checkpoint import CheckpointError, load_trainer
from ..explorer import Explorer, RunState
from ..session_store import SessionStore, StoreError
from .colours import learner_colours
from .compare_view import CompareView
from .evaluation_reproduce import paper_run_name
from .evaluation_view import EvaluationView
from .library_panel import LibraryPanel

LIVE_COMPARE_S = 0.2


class SessionViews:
    """``panel``, ``compare`` and ``evaluation`` for ``model``; ``window`` asks questions
    and saves files (its ``files`` and ``preferences``). ``store`` keeps the session's
    trained learners between launches (:meth:`restore` on launch, :meth:`persist` on quit)."""

    def __init__(self, model: Explorer, window, store: SessionStore) -> None:
        self.model = model
        self.window = window
        self.store = store
        self.panel = LibraryPanel(model.library)
        self.compare = CompareView()
        self.evaluation = EvaluationView()
        self.tabs: QTabWidget | None = None
        self._last_live = 0.0
        self.panel.activate.connect(lambda name: model.use(name) or self.refresh_panel())  # No: show it again
        self.panel.save.connect(self.save)
        self.panel.drop.connect(model.drop)
        self.panel.rename.connect(self.rename)
        self.evaluation.reproduced.connect(self._adopt_reproduced)
        model.events.library.connect(self.refresh_panel)
        model.events.progress.connect(lambda p: self.panel.update_iterations(model.active.name, p.done))
        # A state change too: compare shows the final weights when a run ends.
        for event in (model.events.task, model.events.adaptation, model.events.model, model.events.state):
            event.connect(self.refresh_views)
        self.refresh_panel()

    def add_menu(self, menu) -> None:
        menu.addAction("Compare learners on this task", lambda: self.show_tab(self.compare))
        menu.addAction("Evaluate on the benchmark protocol", lambda: self.show_tab(self.evaluation))
        menu.addAction("Reproduce the paper\u2026", self._ask_reproduce)
        menu.addSeparator()
        menu.addAction("Forget saved session\u2026", self.ask_forget).setToolTip(
            "Drop every learner of this session and delete the copies kept for the next launch")

    def attach_tabs(self, tabs: QTabWidget, side_panel) -> None:
        """Compare and Evaluate become later tabs of ``tabs``. Evaluate has its own
        settings and needs the width: the side panel steps aside while it is shown."""
        self.tabs = tabs
        tabs.addTab(self.compare, "Compare")
        tabs.addTab(self.evaluation, "Evaluate")

        def on_tab(_: int) -> None:
            side_panel.setVisible(tabs.currentWidget() is not self.evaluation)
            self.refresh_views()

        tabs.currentChanged.connect(on_tab)

    def show_tab(self, widget) -> None:
        self.tabs.setCurrentWidget(widget)

    def save(self, name: str) -> None:
        entry = self.model.library.get(name)
        if entry is self.model.active:
            self.model.stop()  # the worker must not move the weights mid-save
        folder = self.window.preferences.last_folder()
        path, _ = QFileDialog.getSaveFileName(self.window, "Save checkpoint", str(Path(folder) / f"{name}.pt"),
                                              "Checkpoint (*.pt)")
        if path:
            self.window.files.write_checkpoint(Path(path), entry.trainer)

    def rename(self, old: str, new: str) -> None:
        try:
            self.model.rename(old, new)
        except ValueError as exc:
            self.window.notify("Cannot rename", str(exc))

    def refresh_panel(self) -> None:
        self.panel.refresh(self.model.active.name if self.model.active else "", self.colours())
        self.refresh_views()

    def colours(self) -> dict[str, str]:
        """Each learner's one colour (list, compare, evaluate)."""
        return learner_colours((entry.name, entry.kind) for entry in self.model.library.entries)

    # --- kept between launches ------------------------------------------------------------
    def restore(self, activate: bool) -> list[str]:
        """Bring back the learners kept by the last session; ``activate``: the one that was
        active then is active now. Returns one line per learner that could not come back."""
        found = self.store.load()
        if found.entries:
            self.model.restore(found.entries, found.active if activate else None)
        return found.problems

    def persist(self) -> bool:
        """Keep every trained learner for the next launch (nothing may be training). If that
        fails, asks whether to go on without; returns False when the user says no. If another
        window saved the session after this one loaded it, asks before replacing its learners."""
        active = self.model.active
        entries = [(entry.name, entry.trainer) for entry in self.model.library.trained()]
        if self.store.saved_elsewhere():  # another window quit (or saved) after this one opened
            if not entries:
                return True  # nothing of this window's to keep: the other window's session stays
            return self.window.confirm(
                f"Another metaviz window saved its learners after this one opened. Replace them with this "
                f"window's {len(entries)} trained learner(s) for the next launch, and quit?\n\n"
                f"No: stay open. Save what you want to keep as checkpoints (Save\u2026 in the learners' list), "
                f"then drop this window's learners: a window without trained learners leaves the other's "
                f"session as it is.") and self._save(entries, active)
        return self._save(entries, active)

    def _save(self, entries, active) -> bool:
        try:
            self.store.save(entries, active.name if active is not None and active.iterations else None)
        except StoreError as exc:
            return self.window.confirm(f"{exc}\n\nQuit anyway? The {len(entries)} trained learner(s) of this "
                                       f"session are then lost (No: stay, and save them with Learners \u25b8 Save).")
        return True

    def ask_forget(self) -> bool:
        """Learners menu: drop every learner and the kept copies, after asking."""
        trained = self.model.library.trained()
        if not self.window.confirm(f"Forget the {len(trained)} trained learner(s) of this session and delete the "
                                   f"copies kept for the next launch (in {self.store.folder})? This cannot be undone."):
            return False
        self.model.forget_all()
        try:
            self.store.clear()
        except StoreError as exc:
            self.window.notify("Cannot forget the saved session", str(exc))
            return False
        return True

    def refresh_views(self, *_args) -> None:
        """Bring the visible tab up to date (hidden tabs catch up when shown)."""
        if self.tabs is None:
            return
        if self.tabs.currentWidget() is self.compare:
            self.compare.set_learners(self.model.display_learners(), self.colours())
            self.compare.set_task(self.model.history.current)
            self.compare.set_steps(self.model.adapt_steps)
        elif self.tabs.currentWidget() is self.evaluation and not self.evaluation.runner.running:
            self.evaluation.set_learners(self.model.display_learners(), self.colours())

    def on_frame(self) -> None:
        """Each frame of the Explore view's timer: compare follows training live when shown
        (at most every LIVE_COMPARE_S: each redraw adapts every learner)."""
        now = time.monotonic()
        if (self.tabs is not None and self.tabs.currentWidget() is self.compare
                and self.model.state is RunState.TRAINING and now - self._last_live >= LIVE_COMPARE_S):
            self._last_live = now
            self.refresh_views()

    def _ask_reproduce(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder for the reproduced runs",
                                                  self.window.preferences.last_folder())
        if folder:
            self.show_tab(self.evaluation)
            self.evaluation.reproduce(Path(folder))

    def _adopt_reproduced(self, runs: list) -> None:
        """Each reproduced checkpoint joins the session (not made active)."""
        for run in runs:
            try:
                trainer = load_trainer(run.checkpoint)
            except CheckpointError as exc:
                self.window.notify("Cannot load a reproduced run", str(exc))
                continue
            self.model.add(trainer, paper_run_name(trainer.learner.kind))
