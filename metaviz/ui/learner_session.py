"""The session's learners in the window: the list panel, the Compare and Evaluate tabs,
wired to the explorer model (which owns the library). GUI thread only."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QTabWidget

from ..checkpoint import CheckpointError, load_trainer
from ..explorer import Explorer
from .compare_view import CompareView
from .evaluation_view import EvaluationView
from .library_panel import LibraryPanel


class SessionViews:
    """``panel``, ``compare`` and ``evaluation`` for ``model``; ``window`` asks questions
    and saves files (its ``files`` and ``preferences``)."""

    def __init__(self, model: Explorer, window) -> None:
        self.model = model
        self.window = window
        self.panel = LibraryPanel(model.library)
        self.compare = CompareView()
        self.evaluation = EvaluationView()
        self.tabs: QTabWidget | None = None
        self.panel.activate.connect(model.use)
        self.panel.save.connect(self.save)
        self.panel.drop.connect(model.drop)
        self.panel.rename.connect(self.rename)
        self.evaluation.reproduced.connect(self._adopt_reproduced)
        model.events.library.connect(self.refresh_panel)
        model.events.progress.connect(lambda p: self.panel.update_iterations(model.active.name, p.done))
        for event in (model.events.task, model.events.adaptation, model.events.model):
            event.connect(self.refresh_views)
        self.refresh_panel()

    def add_menu(self, menu) -> None:
        menu.addAction("Compare learners on this task", lambda: self.show_tab(self.compare))
        menu.addAction("Evaluate on the benchmark protocol", lambda: self.show_tab(self.evaluation))
        menu.addAction("Reproduce the paper\u2026", self._ask_reproduce)

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
        self.panel.refresh(self.model.active.name if self.model.active else "")
        self.refresh_views()

    def refresh_views(self, *_args) -> None:
        """Bring the visible tab up to date (hidden tabs catch up when shown)."""
        if self.tabs is None:
            return
        if self.tabs.currentWidget() is self.compare:
            self.compare.set_learners(self.model.display_learners())
            self.compare.set_task(self.model.history.current)
            self.compare.set_steps(self.model.adapt_steps)
        elif self.tabs.currentWidget() is self.evaluation and not self.evaluation.runner.running:
            self.evaluation.set_learners(self.model.display_learners())

    def on_frame(self) -> None:
        """Each repaint of the Explore view: compare follows training live when shown."""
        if self.tabs is not None and self.tabs.currentWidget() is self.compare:
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
            self.model.add(trainer, f"{trainer.learner.kind} (paper run)")
