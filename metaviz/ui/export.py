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
import re
import textwrap
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters)

from ..adaptation import AdaptationView
from ..files import write_atomic
from ..jobs.training import ValidationPoint

CAPTION_COLOUR = "#333333"
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


def write_bytes(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}" if exc.strerror else str(exc)) from exc


def export_png(plot: pg.PlotWidget, path: str | os.PathLike, width: int, caption: str = "") -> None:
    """A PNG of ``plot`` ``width`` pixels wide (height keeps the aspect ratio), with
    ``caption`` (if any) in lines below it."""
    exporter = pg.exporters.ImageExporter(plot.getPlotItem())
    exporter.parameters()["width"] = int(width)  # a float width makes ImageExporter fail
    image = exporter.export(toBytes=True)
    write_bytes(Path(path), png_bytes(with_caption(image, caption) if caption else image))


def with_caption(image, caption: str):
    """``image`` (a QImage) on white with ``caption`` word-wrapped below it."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    width = image.width()
    margin = max(6, width // 100)
    font = QFont()
    font.setPixelSize(max(11, width // 70))
    probe = QPainter(image)
    probe.setFont(font)
    flags = int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap)
    box = probe.boundingRect(QRect(margin, 0, width - 2 * margin, 10_000), flags, caption)
    probe.end()
    out = QImage(width, image.height() + box.height() + 2 * margin, QImage.Format.Format_ARGB32)
    out.fill(QColor("white"))
    painter = QPainter(out)
    painter.drawImage(0, 0, image)
    painter.setFont(font)
    painter.setPen(QColor(CAPTION_COLOUR))
    painter.drawText(QRect(margin, image.height() + margin, width - 2 * margin, box.height()), flags, caption)
    painter.end()
    return out


def png_bytes(image) -> bytes:
    """A QImage encoded as PNG in memory (then written atomically, like every file)."""
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError("cannot encode the image as PNG")
    return bytes(buffer.data())


def export_svg(plot: pg.PlotWidget, path: str | os.PathLike, caption: str = "") -> None:
    """An SVG of ``plot`` (with ``caption`` below it) that renderers other than Qt's draw
    too: ImageMagick's own renderer drops everything under pyqtgraph's clip paths (only
    the grid was left), so curves are clipped to the view here and the clip paths go."""
    item = plot.getPlotItem()
    plot.scene().prepareForPaint()  # the view range follows new data only when painted; SVG export does not paint
    with clipped_to_view(item):
        text = svg_text(item, [item])
    write_bytes(Path(path), (svg_with_caption(text, caption) if caption else text).encode("utf-8"))


def svg_text(item, plot_items) -> str:
    """pyqtgraph's SVG of ``item``, without clip paths when every data item of
    ``plot_items`` lies inside its view (then clipping changes nothing)."""
    text = bytes(pg.exporters.SVGExporter(item).export(toBytes=True)).decode("utf-8")
    if all(_inside_view(p) for p in plot_items):
        text = re.sub(r' clip-path="url\(#[^)]*\)"', "", text)
    return text


def _inside_view(plot_item: pg.PlotItem) -> bool:
    """Every visible data item of ``plot_item`` within its view range (display units)."""
    ranges = plot_item.viewRange()
    for data_item in plot_item.listDataItems():
        if not data_item.isVisible():
            continue
        for axis, (low, high) in enumerate(ranges):
            bounds = data_item.dataBounds(axis)
            if bounds is None or bounds[0] is None:
                continue
            slack = 1e-9 * (high - low)
            if bounds[0] < low - slack or bounds[1] > high + slack:
                return False
    return True


@contextmanager
def clipped_to_view(plot_item: pg.PlotItem):
    """Curves of a linear plot cut at the top and bottom of the view while inside the
    ``with`` (an overshooting prediction then needs no clip path); restored after."""
    if plot_item.getAxis("left").logMode or plot_item.getAxis("bottom").logMode:
        yield
        return
    low, high = plot_item.viewRange()[1]
    saved = []
    for curve in plot_item.listDataItems():
        if isinstance(curve, pg.PlotDataItem) and curve.isVisible():
            x, y = curve.getData()
            if y is not None and len(y) and (np.nanmin(y) < low or np.nanmax(y) > high):
                saved.append((curve, x, y, curve.opts["connect"]))
                curve.setData(*clip_polyline(x, y, low, high), connect="finite")
    try:
        yield
    finally:
        for curve, x, y, connect in saved:
            curve.setData(x, y, connect=connect)


def clip_polyline(x: np.ndarray, y: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The polyline (x, y) [N] cut to low <= y <= high: a crossing of a bound becomes a
    point on it, the stretches outside become gaps (nan)."""
    xs: list[float] = []
    ys: list[float] = []
    for i in range(len(x)):
        if i and np.isfinite(y[i - 1]) and np.isfinite(y[i]) and y[i] != y[i - 1]:
            crossings = sorted((bound - y[i - 1]) / (y[i] - y[i - 1]) for bound in (low, high)
                               if (y[i - 1] - bound) * (y[i] - bound) < 0)
            for t in crossings:
                xs.append(x[i - 1] + t * (x[i] - x[i - 1]))
                ys.append(y[i - 1] + t * (y[i] - y[i - 1]))
        xs.append(x[i])
        ys.append(y[i] if low <= y[i] <= high else np.nan)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def svg_with_caption(svg: str, caption: str, font_px: int = 12) -> str:
    """``svg`` (pyqtgraph's: sized by its viewBox) grown at the bottom by ``caption``."""
    match = re.search(r'viewBox\s*=\s*"0 0 ([\d.]+) ([\d.]+)"', svg)
    if match is None:
        return svg
    width, height = float(match.group(1)), float(match.group(2))
    lines = textwrap.wrap(caption, max(int(width / (0.55 * font_px)), 20))
    line_height = 1.35 * font_px
    grown = height + line_height * len(lines) + font_px
    texts = "".join(f'<text x="6" y="{height + font_px + i * line_height:.1f}" font-family="sans-serif" '
                    f'font-size="{font_px}" fill="{CAPTION_COLOUR}">{escape(line)}</text>\n'
                    for i, line in enumerate(lines))
    svg = svg[:match.start()] + f'viewBox="0 0 {width:g} {grown:g}"' + svg[match.end():]
    end = svg.rindex("</svg>")
    return svg[:end] + '<g class="caption">\n' + texts + "</g>\n" + svg[end:]


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
    """Columns x, truth, pre, step_1 .. step_{k-1}, post (post = after k steps), and for a
    learner with a predictive distribution predictive_mean and predictive_std."""
    steps = view.trajectory.shape[0] - 1
    header = ["x", "truth", "pre"] + [f"step_{i}" for i in range(1, steps)] + (["post"] if steps else [])
    columns = [view.x, view.truth, *view.trajectory]
    if view.mean is not None:
        header += ["predictive_mean", "predictive_std"]
        columns += [view.mean, view.std]
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
