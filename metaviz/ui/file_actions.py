"""The File menu: exports, settings JSON and checkpoints.

Each action has a dialog-free method taking a path (used by tests and the
screenshot command); the menu handlers only ask for the path. Every failure
reaches the user through ``window.notify`` and changes nothing else.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog

from ..checkpoint import load_trainer, save_checkpoint
from ..learners import make_learner
from .export import ExportError, export_curves_csv, export_history_csv, export_png, export_svg
from .settings import load_settings_json, save_settings_json


class FileActions:
    """Builds the File menu of ``window`` (a :class:`~metaviz.ui.main_window.MainWindow`)."""

    def __init__(self, window) -> None:
        self.window = window
        menu = window.menuBar().addMenu("&File")
        entries = (
            ("Export task plot as PNG\u2026", "task plot.png", "PNG image (*.png)",
             self._png(lambda: window.explore.task_plot)),
            ("Export task plot as SVG\u2026", "task plot.svg", "SVG image (*.svg)",
             self._svg(lambda: window.explore.task_plot)),
            ("Export training plot as PNG\u2026", "training plot.png", "PNG image (*.png)",
             self._png(lambda: window.explore.training_plot)),
            ("Export training plot as SVG\u2026", "training plot.svg", "SVG image (*.svg)",
             self._svg(lambda: window.explore.training_plot)),
            (None, None, None, None),
            ("Export curves as CSV\u2026", "curves.csv", "CSV (*.csv)", self.export_curves),
            ("Export training history as CSV\u2026", "history.csv", "CSV (*.csv)", self.export_history),
            (None, None, None, None),
            ("Save settings\u2026", "settings.json", "JSON (*.json)", self.save_settings),
            ("Load settings\u2026", None, "JSON (*.json)", self.load_settings),
            ("Save checkpoint\u2026", "metaviz.pt", "Checkpoint (*.pt)", self.save_checkpoint),
            ("Load checkpoint\u2026", None, "Checkpoint (*.pt)", self.load_checkpoint),
        )
        for label, default_name, file_filter, action in entries:
            if label is None:
                menu.addSeparator()
                continue
            item = menu.addAction(label)
            item.triggered.connect(lambda _=False, d=default_name, f=file_filter, a=action, t=label:
                                   self._ask(t, d, f, a))
        menu.addSeparator()
        menu.addAction("Quit", QKeySequence.StandardKey.Quit, window.close)

    def _ask(self, title: str, default_name: str | None, file_filter: str, action) -> None:
        folder = self.window.preferences.last_folder()
        if default_name is None:
            path, _ = QFileDialog.getOpenFileName(self.window, title.rstrip("\u2026"), folder, file_filter)
        else:
            path, _ = QFileDialog.getSaveFileName(self.window, title.rstrip("\u2026"),
                                                  str(Path(folder) / default_name), file_filter)
        if path:
            self.window.preferences.set_last_folder(Path(path).parent)
            action(Path(path))

    def _guard(self, title: str, action) -> bool:
        """Run ``action``; a failure becomes a dialog. Returns True on success."""
        try:
            action()
        except (ExportError, ValueError, OSError) as exc:  # CheckpointError is a ValueError
            self.window.notify(title, str(exc))
            return False
        return True

    # --- exports -----------------------------------------------------------------
    def _png(self, plot):
        return lambda path: self.export_png(plot(), path)

    def _svg(self, plot):
        return lambda path: self.export_svg(plot(), path)

    def export_png(self, plot, path: Path, width: int | None = None) -> bool:
        """The plot with a caption below it: learner, iterations, the settings that made it."""
        self.window.explore.draw_now()  # the frame timer may not have drawn the newest data yet
        caption = self.window.model.caption()
        return self._guard("Export failed", lambda: export_png(plot, path, width or plot.width(), caption))

    def export_svg(self, plot, path: Path) -> bool:
        self.window.explore.draw_now()
        caption = self.window.model.caption()
        return self._guard("Export failed", lambda: export_svg(plot, path, caption))

    def export_curves(self, path: Path) -> bool:
        return self._guard("Export failed", lambda: export_curves_csv(self.window.model.adaptation_view(), path))

    def export_history(self, path: Path) -> bool:
        m = self.window.model
        return self._guard("Export failed", lambda: export_history_csv(m.losses, m.validations, path))

    # --- settings and checkpoints ------------------------------------------------
    def save_settings(self, path: Path) -> bool:
        return self._guard("Cannot save settings", lambda: save_settings_json(path, self.window.model.config))

    def load_settings(self, path: Path) -> bool:
        """A settings file makes a new model, as a new entry of the session (the one shown
        before is kept); a bad file changes nothing."""
        model = self.window.model
        config = self._read("Cannot load settings", load_settings_json, path)
        if config is None:
            return False
        try:
            make_learner(config)  # valid values that still cannot build a model fail here, not later
        except (ValueError, RuntimeError) as exc:
            self.window.notify("Cannot load settings", f"{path}: {exc}")
            return False
        # A new entry: a trained or loaded learner stays in the session under its name.
        return model.load_config(config)

    def save_checkpoint(self, path: Path) -> bool:
        """Stops training first (Start continues it): the worker must not move the weights mid-save."""
        self.window.model.stop()
        return self.write_checkpoint(path, self.window.model.trainer)

    def write_checkpoint(self, path: Path, trainer) -> bool:
        """Save ``trainer`` (not being trained) to ``path``; a failure is shown, not raised."""
        return self._guard("Cannot save checkpoint", lambda: save_checkpoint(path, trainer))

    def load_checkpoint(self, path: Path) -> bool:
        """The checkpoint's model, history and settings, explorable at once (no retraining)."""
        trainer = self._read("Cannot load checkpoint", load_trainer, path)
        if trainer is None:
            return False
        # Joins the session's learners, shown at once (None: the user kept a run going).
        return self.window.model.adopt(trainer, Path(path).stem) is not None

    def _read(self, title: str, reader, path: Path):
        """``reader(path)``, or None after showing why not (a CheckpointError is a ValueError)."""
        try:
            return reader(path)
        except ValueError as exc:
            self.window.notify(title, str(exc))
            return None
