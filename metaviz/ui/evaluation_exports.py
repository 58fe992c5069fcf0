"""The evaluation view's exports: the figure (PNG, SVG), the curves (CSV) and the table
(Markdown), each refused with one line before anything is written when there are no
results yet or the target cannot take them. A part of
:class:`~metaviz.ui.evaluation_view.EvaluationView` (it uses ``results``, ``figure``
and ``show_error``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..files import write_atomic
from ..report import curves_csv, markdown_report
from .figures import ExportError


def _check_target(path: Path) -> None:
    """Refuse before writing anything: a missing folder or a path that is a folder."""
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: folder {path.parent} does not exist")


class EvaluationExports:
    """Export methods of the evaluation view; each returns True when written."""

    def export_png(self, path, width: int = 1500) -> bool:
        return self._export(path, lambda p: self.figure.export_png(p, width))

    def export_svg(self, path) -> bool:
        return self._export(path, self.figure.export_svg)

    def export_csv(self, path) -> bool:
        """Columns learner, K, step, mean, ci95, median, diverged; one row per (learner, K, step)."""
        return self._export(path, lambda p: write_atomic(p, curves_csv(self.results)))

    def export_markdown(self, path) -> bool:
        """The protocol, then our rows and the published ones (:func:`format_markdown`)."""
        return self._export(path, lambda p: write_atomic(p, markdown_report(self.results)))

    def _export(self, path, write) -> bool:
        path = Path(path)
        if not self.results:
            return self.show_error("Nothing to export yet: run an evaluation first.")
        try:
            _check_target(path)
            write(path)
        except OSError as exc:
            return self.show_error(str(exc) if isinstance(exc, ExportError)
                                   else f"cannot write {path}: {exc.strerror or exc}")
        return True

    def _ask_export(self, method, filter_: str, title: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title.rstrip("…"), "", filter_)
        if path:
            method(path)

