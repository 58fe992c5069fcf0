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
from ..oracle import OracleLearner
from ..protocol import EvaluationResult
from ..published import PUBLISHED
from ..report import protocol_text, published_apply
from . import export as _export
from .plot_parts import log_axis
from .uncertainty import ORACLE_COLOUR  # importing it patches SVGExporter (pyqtgraph issue #3495)

ExportError = _export.ExportError
_DEFAULT_WIDTH = 1500  # pixels of the written PNG: three legible panels side by side


# Distinct, colour-blind friendly (Okabe-Ito) colours for our learners.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
# One marker per published row, all in dark grey so they never read as our curves.
PUBLISHED_SYMBOLS = ("star", "s", "t", "d", "x")
PUBLISHED_COLOUR = "#444444"
MARKER_SIZE = 10
TEXT_COLOUR = "#222222"


def band(mean: np.ndarray, ci: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges of mean +/- ci [steps + 1], the lower edge clipped to
    ``floor`` > 0 so the log axis can draw it; non-finite values become nan (gaps)."""
    finite = np.isfinite(mean) & np.isfinite(ci)
    lower = np.where(finite, np.maximum(mean - ci, floor), np.nan)
    upper = np.where(finite, mean + ci, np.nan)
    return lower, upper


def published_rows(results: Sequence[EvaluationResult]):
    """The published figures, where they apply to these results (noise-free paper sinusoids)."""
    return PUBLISHED if results and published_apply(results) else ()


def y_range(results: Sequence[EvaluationResult], floor: float) -> tuple[float, float]:
    """log10 bounds covering every band and the published markers."""
    values = [v for r in results for c in r.curves.values() for m, ci in zip(c.mean, c.ci95)
              for v in (max(m - ci, floor), m + ci) if math.isfinite(v) and v > 0]
    values += [v[0] for row in published_rows(results) for v in row.mse.values()]
    return math.log10(min(values)), math.log10(max(values))


def dodge(points: Sequence[tuple[int, float]], near: float, step: float, last: int) -> dict[tuple[int, float], float]:
    """x positions for markers at (step, log10 y): a marker that would sit within ``near``
    (log10 units) of one already placed at the same step moves sideways by ``step`` (towards
    the inside at step 0 and at the ``last`` step, else left, right, further left...), so
    published figures never pile up on one another nor hang off the panel."""
    placed: dict[tuple[int, float], float] = {}
    for x, y in sorted(set(points)):
        taken = {placed[p] - x for p in placed if p[0] == x and abs(p[1] - y) < near}
        signs = (1,) if x == 0 else (-1,) if x == last else (-1, 1)
        candidates = [0.0] + [sign * j * step for j in range(1, len(points) + 1) for sign in signs]
        offset = next(o for o in candidates if not any(abs(o - t) < 1e-9 for t in taken))
        placed[(x, y)] = x + offset
    return placed


class EvaluationFigure(pg.GraphicsLayoutWidget):
    """A title row, one panel per K (y axes linked) and one legend row below them.

    :meth:`set_results` builds the plot items once per result set.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.results: list[EvaluationResult] = []
        self.legend: pg.LegendItem | None = None
        self.colours: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.panels: dict[int, pg.PlotItem] = {}
        self.curves: dict[tuple[str, int], pg.PlotDataItem] = {}  # (learner, K) -> mean curve
        self.title = self.addLabel("Run an evaluation to see query MSE against adaptation steps",
                                   row=0, col=0, color=TEXT_COLOUR, size="11pt")

    def set_results(self, results: Sequence[EvaluationResult], colours: dict[str, str] | None = None,
                    notes: dict[str, str] | None = None) -> None:
        """Show ``results`` (one per learner, named by ``result.learner``); ``colours`` maps a
        name to its colour in the other views (default: the colour of the kind it names);
        ``notes`` a name to why its curve is flat (a learner without gradient steps)."""
        self.colours = dict(colours or {})
        self.notes = dict(notes or {})
        self.clear()  # removes the previous set's panels, legend and title
        self.legend = None
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
        low, high = y_range(self.results, floor) if self.results else (-1.0, 1.0)
        span = max(high - low, 0.5)
        for col, k in enumerate(shots):
            self.panels[k] = self._panel(k, col, floor, entries, span)
            # One fixed y range for every panel, so the K's compare at a glance (log10 units);
            # room above the highest marker so none is cut at the top.
            self.panels[k].setYRange(low - 0.05 * span, high + 0.12 * span, padding=0)
        if entries:
            legend = pg.LegendItem(labelTextSize="10pt", labelTextColor=TEXT_COLOUR, colCount=self._legend_columns(),
                                   pen=pg.mkPen("#999"), brush=pg.mkBrush(255, 255, 255))
            for label, item in entries.items():
                legend.addItem(item, label)
            self.addItem(legend, row=2, col=0, colspan=columns)
            self.legend = legend
        self.resizeEvent(None)  # a new layout grows to its preferred width: back to the widget's

    def _panel(self, k: int, col: int, floor: float, entries: dict[str, pg.PlotDataItem],
               span: float) -> pg.PlotItem:
        """The K-shot panel; adds its items to ``entries`` under labels not seen yet."""
        panel = self.addPlot(row=1, col=col, axisItems={"left": log_axis()})
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
            colour = pg.mkColor(self._colour(result.learner, index))
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
            note = self.notes.get(result.learner)
            entries.setdefault(f"{result.learner} (flat: {note})" if note else result.learner, item)
        # Sideways by about a marker's width in a panel a third of a laptop window wide.
        rows = published_rows(self.results)
        placed = dodge([(s, math.log10(v[0])) for row in rows for (kk, s), v in row.mse.items()
                        if kk == k and s <= steps], near=0.08 * span, step=max(0.2, 0.035 * (steps + 1)), last=steps)
        for row, symbol in zip(rows, PUBLISHED_SYMBOLS):
            points = sorted((placed[(s, math.log10(v[0]))], v[0]) for (kk, s), v in row.mse.items()
                            if kk == k and s <= steps)
            if points:
                xs, ys = zip(*points)
                item = panel.plot(list(xs), list(ys), pen=None, symbol=symbol, symbolSize=MARKER_SIZE,
                                  symbolBrush=None if symbol == "x" else pg.mkBrush(PUBLISHED_COLOUR),
                                  symbolPen=pg.mkPen(PUBLISHED_COLOUR, width=1.5))
                entries.setdefault(f"{row.method} (published)", item)
        return panel

    def _legend_columns(self) -> int:
        return max(1, min(3, (self.width() - 20) // 300))

    def _fit_width(self) -> None:
        """A narrow window wraps the title and stacks the legend: neither may set a minimum
        width that pushes the last panel out of sight."""
        self.title.item.setTextWidth(max(self.width() - 40, 200))
        self.title.updateMin()
        if self.legend is not None:
            self.legend.setColumnCount(self._legend_columns())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if "title" in self.__dict__:  # the base class resizes before __init__ is done
            self._fit_width()  # first: the layout's minimum must shrink before it is fitted to the view
        super().resizeEvent(event)

    def _colour(self, name: str, index: int) -> str:
        """The colour this learner has in the other views."""
        if name in self.colours:
            return self.colours[name]
        if name == OracleLearner.kind:  # the best possible answer: as the Explore and Compare tabs draw it
            return ORACLE_COLOUR
        spec = next((s for s in LEARNER_REGISTRY.items() if name.split(" (")[0] in (s.name, s.label)), None)
        return spec.colour if spec else PALETTE[index % len(PALETTE)]

    def save(self, stem: Path, width: int = _DEFAULT_WIDTH) -> list[Path]:
        """Write ``stem.png`` (``width`` pixels wide) and ``stem.svg``; return both paths."""
        stem = Path(stem)
        return [self.export_png(stem.with_suffix(".png"), width), self.export_svg(stem.with_suffix(".svg"))]

    def export_png(self, path: str | os.PathLike, width: int = _DEFAULT_WIDTH) -> Path:
        """Write the whole figure as a PNG ``width`` pixels wide (height keeps the aspect)."""
        exporter = pg.exporters.ImageExporter(self.ci)
        exporter.parameters()["width"] = int(width)  # ImageExporter fails on a float width
        _export.write_bytes(Path(path), _export.png_bytes(exporter.export(toBytes=True)))
        return Path(path)

    def export_svg(self, path: str | os.PathLike) -> Path:
        """Write the whole figure as SVG (one <path> per curve, band and marker set)."""
        self.scene().prepareForPaint()  # ranges follow the data only when painted; SVG export does not paint
        text = _export.svg_text(self.ci, list(self.panels.values()))  # no clip paths: ImageMagick draws it
        _export.write_bytes(Path(path), text.encode("utf-8"))
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
