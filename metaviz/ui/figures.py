"""The MAML paper's figure on your own models, and the rows of its table and exports.

One panel per K (5, 10, 20): x = gradient steps 0..steps, y = query MSE on a log
axis, one curve per evaluated learner with its 95% band, and the published figures
of PROTOCOL.md (:mod:`metaviz.published`) as markers. The same widget is shown in the
evaluation view and rendered headless by ``python main.py reproduce``
(:func:`save_evaluation_figure`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters)

from ..learners import LEARNER_REGISTRY
from ..protocol import EvaluationResult
from ..published import PUBLISHED
from ..report import protocol_text
from . import export as _export  # importing it patches SVGExporter (pyqtgraph issue #3495)

ExportError = _export.ExportError
_DEFAULT_WIDTH = 1500  # pixels of the written PNG: three legible panels side by side


# Distinct, colour-blind friendly (Okabe-Ito) colours for our learners.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
# One marker per published row, all in dark grey so they never read as our curves.
PUBLISHED_SYMBOLS = ("star", "s", "t", "d", "x")
PUBLISHED_COLOUR = "#444444"
TEXT_COLOUR = "#222222"


def band(mean: np.ndarray, ci: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges of mean +/- ci [steps + 1], the lower edge clipped to
    ``floor`` > 0 so the log axis can draw it; non-finite values become nan (gaps)."""
    finite = np.isfinite(mean) & np.isfinite(ci)
    lower = np.where(finite, np.maximum(mean - ci, floor), np.nan)
    upper = np.where(finite, mean + ci, np.nan)
    return lower, upper


def y_range(results: Sequence[EvaluationResult], floor: float) -> tuple[float, float]:
    """log10 bounds covering every band and the published markers."""
    values = [v for r in results for c in r.curves.values() for m, ci in zip(c.mean, c.ci95)
              for v in (max(m - ci, floor), m + ci) if math.isfinite(v) and v > 0]
    values += [v[0] for row in PUBLISHED for v in row.mse.values()]
    return math.log10(min(values)), math.log10(max(values))


class EvaluationFigure(pg.GraphicsLayoutWidget):
    """A title row, one panel per K (y axes linked) and one legend row below them.

    :meth:`set_results` builds the plot items once per result set.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.results: list[EvaluationResult] = []
        self.panels: dict[int, pg.PlotItem] = {}
        self.curves: dict[tuple[str, int], pg.PlotDataItem] = {}  # (learner, K) -> mean curve
        self.title = self.addLabel("Run an evaluation to see query MSE against adaptation steps",
                                   row=0, col=0, color=TEXT_COLOUR, size="11pt")

    def set_results(self, results: Sequence[EvaluationResult]) -> None:
        """Show ``results`` (one per learner, named by ``result.learner``)."""
        self.clear()  # removes the previous set's panels, legend and title
        self.panels.clear()
        self.curves.clear()
        self.results = list(results)
        shots = sorted({k for r in self.results for k in r.curves})
        columns = max(len(shots), 1)
        self.title = self.addLabel(
            protocol_text(self.results) + "<br>shaded: 95% CI; grey markers: published figures" if self.results
            else "No results", row=0, col=0, colspan=columns, color=TEXT_COLOUR, size="11pt")
        means = [v for r in self.results for c in r.curves.values() for v in c.mean if math.isfinite(v) and v > 0]
        # The band's lower edge may reach 0 or below: clip it a decade under the smallest mean.
        floor = min(means, default=1.0) / 10
        entries: dict[str, pg.PlotDataItem] = {}  # legend label -> its first item (one legend for all panels)
        for col, k in enumerate(shots):
            self.panels[k] = self._panel(k, col, floor, entries)
            # One fixed y range for every panel, so the K's compare at a glance (log10 units).
            self.panels[k].setYRange(*y_range(self.results, floor), padding=0.04)
        if entries:
            legend = pg.LegendItem(labelTextSize="10pt", labelTextColor=TEXT_COLOUR, colCount=2,
                                   pen=pg.mkPen("#999"), brush=pg.mkBrush(255, 255, 255))
            for label, item in entries.items():
                legend.addItem(item, label)
            self.addItem(legend, row=2, col=0, colspan=columns)

    def _panel(self, k: int, col: int, floor: float, entries: dict[str, pg.PlotDataItem]) -> pg.PlotItem:
        """The K-shot panel; adds its items to ``entries`` under labels not seen yet."""
        panel = self.addPlot(row=1, col=col)
        steps = max(r.steps for r in self.results if k in r.curves)
        # Short, so three panels fit a window; the protocol is in the title row above.
        panel.setTitle(f"K = {k} shots", size="11pt", color=TEXT_COLOUR)
        panel.setLogMode(x=False, y=True)
        for side, label in (("bottom", "gradient steps"), ("left", "query MSE (log scale)")):
            axis = panel.getAxis(side)
            axis.setPen(pg.mkPen(TEXT_COLOUR))
            axis.setTextPen(pg.mkPen(TEXT_COLOUR))
            panel.setLabel(side, label, color=TEXT_COLOUR)
        panel.showGrid(x=True, y=True, alpha=0.2)
        panel.setXRange(-0.5, steps + 0.5, padding=0)  # room for the markers at step 0 and the last step
        for index, result in enumerate(self.results):
            curve = result.curves.get(k)
            if curve is None:
                continue
            name = result.learner.split(" (")[0]
            spec = next((s for s in LEARNER_REGISTRY.items() if name in (s.name, s.label)), None)
            colour = pg.mkColor(spec.colour if spec else PALETTE[index % len(PALETTE)])
            x = np.arange(len(curve.mean), dtype=float)
            mean = np.array(curve.mean, dtype=float)
            lower, upper = band(mean, np.array(curve.ci95, dtype=float), floor)
            fill = pg.mkColor(colour)
            fill.setAlpha(60)
            # FillBetweenItem follows its edge curves, which must be drawn (pen not None) to
            # have a path, so the edges get a faint pen of the band's colour.
            edges = [panel.plot(x, edge, pen=pg.mkPen(fill, width=1), connect="finite")
                     for edge in (lower, upper)]
            panel.addItem(pg.FillBetweenItem(*edges, brush=fill))
            mean = np.where(np.isfinite(mean), mean, np.nan)
            # Antialiased, a wide pen draws one path (not segments): smooth, and one SVG <path>.
            item = panel.plot(x, mean, pen=pg.mkPen(colour, width=2.5), symbol="o", symbolSize=5,
                              symbolBrush=colour, symbolPen=None, connect="finite", antialias=True)
            self.curves[(result.learner, k)] = item
            entries.setdefault(result.learner, item)
        for row, symbol in zip(PUBLISHED, PUBLISHED_SYMBOLS):
            points = sorted((s, v[0]) for (kk, s), v in row.mse.items() if kk == k and s <= steps)
            if points:
                xs, ys = zip(*points)
                item = panel.plot(list(xs), list(ys), pen=None, symbol=symbol, symbolSize=12,
                                  symbolBrush=None if symbol == "x" else pg.mkBrush(PUBLISHED_COLOUR),
                                  symbolPen=pg.mkPen(PUBLISHED_COLOUR, width=1.5))
                entries.setdefault(f"{row.method} (published)", item)
        return panel

    def save(self, stem: Path, width: int = _DEFAULT_WIDTH) -> list[Path]:
        """Write ``stem.png`` (``width`` pixels wide) and ``stem.svg``; return both paths."""
        stem = Path(stem)
        return [self.export_png(stem.with_suffix(".png"), width), self.export_svg(stem.with_suffix(".svg"))]

    def export_png(self, path: str | os.PathLike, width: int = _DEFAULT_WIDTH) -> Path:
        """Write the whole figure as a PNG ``width`` pixels wide (height keeps the aspect)."""
        exporter = pg.exporters.ImageExporter(self.ci)
        exporter.parameters()["width"] = int(width)  # ImageExporter fails on a float width
        _export._write_bytes(Path(path), _export.png_bytes(exporter.export(toBytes=True)))
        return Path(path)

    def export_svg(self, path: str | os.PathLike) -> Path:
        """Write the whole figure as SVG (one <path> per curve, band and marker set)."""
        _export._write_bytes(Path(path), bytes(pg.exporters.SVGExporter(self.ci).export(toBytes=True)))
        return Path(path)


def save_evaluation_figure(results: Sequence[EvaluationResult], stem: Path,
                           width: int = _DEFAULT_WIDTH) -> list[Path]:
    """Write ``stem.png`` (``width`` pixels wide) and ``stem.svg``; return both paths.
    Needs a QApplication (the window's reproduce passes this as the job's renderer)."""
    figure = EvaluationFigure()
    # Laid out at the size it is written at, so fonts and markers keep their proportions.
    height = width * 9 // 20  # room for the panels above the legend rows
    figure.resize(width, height)
    figure.ci.setGeometry(0, 0, width, height)  # a hidden widget gets no resize event to lay it out
    figure.set_results(results)
    try:
        return figure.save(stem, width)
    finally:
        figure.deleteLater()
