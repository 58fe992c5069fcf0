"""PNG/SVG of plots and CSV of curves and history, with clear errors for a person.

pyqtgraph 0.14 with Qt >= 6.11 breaks SVG export: Qt now closes paths with a
bare ``Z`` token and ``correctCoordinates`` cannot unpack it (pyqtgraph issue
#3495). :func:`_patch_svg_exporter` strips the ``Z`` tokens before that function
runs and puts them back afterwards.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters)

from ..adaptation import AdaptationView
from ..files import write_atomic
from ..jobs.training import ValidationPoint

# The module, not the class of the same name that pyqtgraph.exporters re-exports.
_svg = importlib.import_module("pyqtgraph.exporters.SVGExporter")


class ExportError(OSError):
    """An export could not be written; the message says why, for a person."""


def _split_close(d: str) -> tuple[str, bool]:
    tokens = d.replace("Z", " Z ").replace("z", " Z ").split()
    closed = "Z" in tokens
    return " ".join(t for t in tokens if t != "Z"), closed


def _patch_svg_exporter() -> None:
    original = _svg.correctCoordinates
    if getattr(original, "_metaviz_patched", False):
        return

    def correct_coordinates(node, defs, item, options):
        closed = []
        for path in node.getElementsByTagName("path"):
            d, was_closed = _split_close(path.getAttribute("d"))
            path.setAttribute("d", d)
            if was_closed:
                closed.append(path)
        original(node, defs, item, options)
        for path in closed:
            path.setAttribute("d", path.getAttribute("d").rstrip() + " Z")

    correct_coordinates._metaviz_patched = True
    _svg.correctCoordinates = correct_coordinates


_patch_svg_exporter()


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}" if exc.strerror else str(exc)) from exc


def export_png(plot: pg.PlotWidget, path: str | os.PathLike, width: int) -> None:
    """A PNG of ``plot`` ``width`` pixels wide (height keeps the aspect ratio)."""
    exporter = pg.exporters.ImageExporter(plot.getPlotItem())
    exporter.parameters()["width"] = int(width)  # a float width makes ImageExporter fail
    _write_bytes(Path(path), png_bytes(exporter.export(toBytes=True)))


def png_bytes(image) -> bytes:
    """A QImage encoded as PNG in memory (then written atomically, like every file)."""
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError("cannot encode the image as PNG")
    return bytes(buffer.data())


def export_svg(plot: pg.PlotWidget, path: str | os.PathLike) -> None:
    exporter = pg.exporters.SVGExporter(plot.getPlotItem())
    data = exporter.export(toBytes=True)
    _write_bytes(Path(path), data if isinstance(data, bytes) else bytes(data))


def _write_csv(path: str | os.PathLike, header: Sequence[str], rows) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    try:
        write_atomic(path, out.getvalue())
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}" if exc.strerror else str(exc)) from exc


def curves_table(view: AdaptationView) -> tuple[list[str], list[list[float]]]:
    """Columns x, truth, pre, step_1 .. step_{k-1}, post (post = after k steps)."""
    steps = view.trajectory.shape[0] - 1
    header = ["x", "truth", "pre"] + [f"step_{i}" for i in range(1, steps)] + (["post"] if steps else [])
    columns = [view.x, view.truth, *view.trajectory]
    return header, [list(map(float, row)) for row in zip(*columns)]


def export_curves_csv(view: AdaptationView, path: str | os.PathLike) -> None:
    header, rows = curves_table(view)
    _write_csv(path, header, rows)


def export_history_csv(losses: Sequence[tuple[int, float]], validations: Sequence[ValidationPoint],
                       path: str | os.PathLike) -> None:
    """One row per meta-iteration: its loss and, where scored, held-out MSE after 0..10 steps."""
    steps = len(validations[0].mse) if validations else 0
    by_iteration = {v.iteration: v.mse for v in validations}
    header = ["iteration", "loss"] + [f"val_mse_step_{i}" for i in range(steps)]
    rows = [[it, loss, *by_iteration.get(it, [""] * steps)] for it, loss in losses]
    _write_csv(path, header, rows)
