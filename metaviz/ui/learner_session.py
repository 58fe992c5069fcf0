"""Several learners in one session: the library, its panel, the compare and evaluation tabs.

The window trains one entry at a time (the *active* one, ``window.trainer``). Switching
the learner kind keeps the previous entry, trained parameters and all, and comes back
to it when that kind is chosen again; loaded checkpoints and reproduced runs join the
library too. Everything here runs in the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QTabWidget

from ..checkpoint import CheckpointError, load_trainer
from ..learners.base import Learner, make_learner
from ..training import Trainer
from .compare_view import CompareView
from .evaluation_view import EvaluationView
from .library import Entry, LearnerLibrary
from .library_panel import LibraryPanel


class LearnerSession:
    """Owns the library of ``window`` (a MainWindow) and keeps its views in step."""

    def __init__(self, window) -> None:
        self.window = window
        self.library = LearnerLibrary()
        self.active: Entry | None = None
        self.panel = LibraryPanel(self.library)
        self.compare = CompareView()
        self.evaluation = EvaluationView()
        self.panel.activate.connect(self.use)
        self.panel.save.connect(self.save)
        self.panel.drop.connect(self.drop)
        self.panel.rename.connect(self.rename)
        self.evaluation.reproduced.connect(self._adopt_reproduced)

    def add_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&Learners")
        menu.addAction("Compare learners on this task", lambda: self.show_tab(self.compare))
        menu.addAction("Evaluate on the benchmark protocol", lambda: self.show_tab(self.evaluation))
        menu.addAction("Reproduce the paper\u2026", self._ask_reproduce)

    def attach_tabs(self, tabs: QTabWidget, side_panel) -> None:
        """The window's tab widget: the compare and evaluation views are its later tabs.
        The evaluation tab has its own settings and needs the width: the window's side
        panel (training and task controls) steps aside while it is shown."""
        self.tabs = tabs
        tabs.addTab(self.compare, "Compare")
        tabs.addTab(self.evaluation, "Evaluate")

        def on_tab(_: int) -> None:
            side_panel.setVisible(tabs.currentWidget() is not self.evaluation)
            self.refresh_views()

        tabs.currentChanged.connect(on_tab)

    def show_tab(self, widget) -> None:
        self.tabs.setCurrentWidget(widget)

    # --- which trainer is active ------------------------------------------------------
    def set_active_trainer(self, trainer: Trainer) -> None:
        """The window made a new model (or reset one): it replaces the active entry's."""
        if self.active is None:
            self.active = self.library.add(trainer)
        else:
            self.active.trainer = trainer
        self.refresh_panel()

    def adopt(self, trainer: Trainer, name: str | None = None) -> Entry:
        """A new entry (e.g. a loaded checkpoint), made active and shown."""
        entry = self.library.add(trainer, name)
        self.use(entry.name)
        return entry

    def switch_kind(self, kind: str, fresh_config) -> None:
        """Come back to the latest entry of ``kind``, or start a new one with ``fresh_config``."""
        if self.active is not None and self.active.iterations == 0 and self.active.kind != kind:
            self.library.drop(self.active.name)  # an untrained model holds nothing worth keeping
            self.active = None
        entry = self.library.latest_of_kind(kind)
        if entry is None:
            entry = self.library.add(Trainer(make_learner(fresh_config)))
        self.use(entry.name)

    def use(self, name: str) -> None:
        """Make ``name`` the entry the window trains and draws (training stops first)."""
        entry = self.library.get(name)
        if entry is self.active:
            return
        self.active = entry
        self.window.show_trainer(entry.trainer)

    # --- the panel's other requests ------------------------------------------------------
    def save(self, name: str) -> None:
        entry = self.library.get(name)
        if entry is self.active:
            self.window.stop()  # the worker must not move the weights mid-save
        folder = self.window.preferences.last_folder()
        path, _ = QFileDialog.getSaveFileName(self.window, "Save checkpoint", str(Path(folder) / f"{name}.pt"),
                                              "Checkpoint (*.pt)")
        if path:
            self.window.files.write_checkpoint(Path(path), entry.trainer)

    def drop(self, name: str) -> None:
        entry = self.library.get(name)
        if entry.iterations and not self.window.confirm(f"Forget {name!r} and its {entry.iterations} iterations?"):
            return
        was_active = entry is self.active
        self.library.drop(name)
        if was_active:
            self.active = None
            self.window.reset()  # a fresh model with the same settings becomes the active entry
        self.refresh_panel()

    def rename(self, old: str, new: str) -> None:
        try:
            self.library.rename(old, new)
        except ValueError as exc:
            self.window.notify("Cannot rename", str(exc))
        self.refresh_panel()

    # --- views ----------------------------------------------------------------------
    def refresh_panel(self) -> None:
        self.panel.refresh(self.active.name if self.active else "")
        self.refresh_views()

    def display_learners(self) -> dict[str, Learner]:
        """Trained entries, for drawing in the GUI thread: the active one through the
        window's own copy of its latest published parameters (the worker owns the real one)."""
        learners = {}
        for entry in self.library.trained():
            learners[entry.name] = self.window.view_learner if entry is self.active else entry.trainer.learner
        return learners

    def refresh_views(self) -> None:
        """Bring the visible tab up to date (hidden tabs catch up when shown)."""
        tabs = getattr(self, "tabs", None)
        if tabs is None:
            return
        if tabs.currentWidget() is self.compare:
            self.compare.set_learners(self.display_learners())
            self.compare.set_task(self.window.history.current)
            self.compare.set_steps(int(self.window.controls.adapt_steps.value()))
        elif tabs.currentWidget() is self.evaluation and not self.evaluation.runner.running:
            self.evaluation.set_learners(self.display_learners())

    def on_iteration(self, iteration: int) -> None:
        if self.active is not None:
            self.panel.update_iterations(self.active.name, iteration)

    # --- reproduce the paper --------------------------------------------------------
    def _ask_reproduce(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder for the reproduced runs",
                                                  self.window.preferences.last_folder())
        if folder:
            self.show_tab(self.evaluation)
            self.evaluation.reproduce(Path(folder))

    def _adopt_reproduced(self, runs: list) -> None:
        """Each reproduced checkpoint joins the library (not made active)."""
        for run in runs:
            try:
                trainer = load_trainer(run.checkpoint)
            except CheckpointError as exc:
                self.window.notify("Cannot load a reproduced run", str(exc))
                continue
            self.library.add(trainer, f"{run.learner} (paper run)")
        self.refresh_panel()

