"""The task plot (the MAML paper's figure, live), with the learner's uncertainty and the
family's oracle (the best possible answer where it is exact) where they exist, and a mode
to draw the truth by hand.

Every plot item is created once; updates only call ``setData``. Each curve has a
``name=`` so pyqtgraph's CSV exporter labels it. The legend sits below the axes and the
task's MSE in the title: nothing is drawn over the data but the data.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from ..adaptation import AdaptationView, OracleView
from ..oracle import BEST_POSSIBLE
from ..task_history import TaskSample
from .plot_parts import DEFINITIONS, TEXT_COLOUR, cache_axes, fitting_columns, legend_below, set_columns, set_legend
from .uncertainty import BandItems, oracle_items

MAX_RAMP_STEPS = 20
TRUTH_PEN = pg.mkPen("#222222", width=2.5)
PRE_PEN = pg.mkPen("#1f77b4", width=2, style=Qt.PenStyle.DashLine)
POST_COLOUR = "#d62728"
POST_PEN = pg.mkPen(POST_COLOUR, width=2.5)
MEAN_PEN = pg.mkPen(POST_COLOUR, width=1.5, style=Qt.PenStyle.DotLine)
SKETCH_PEN = pg.mkPen("#555555", width=2, style=Qt.PenStyle.DashLine)
HINT_FONT_PT = 11
LEGEND_MARGIN_PX = 90  # the y axis and the margins beside the legend
ORACLE_LABEL = f"{BEST_POSSIBLE} from these points"  # the oracle curve's name until it is drawn


def _ramp_colour(step: int, steps: int) -> tuple[int, int, int, int]:
    """From the pre-adaptation blue towards the post-adaptation red, semi-transparent."""
    t = step / max(steps, 1)
    return (int(31 + t * (214 - 31)), int(119 + t * (39 - 119)), int(180 + t * (40 - 180)), 110)


def oracle_legend(oracle: OracleView) -> str:
    """The oracle's legend label: "best possible" only where its family declares it exact
    for these points (else what it computes, e.g. under label noise), with its band if any."""
    return f"{oracle.name} from these points" + (" \u00b1 2 std" if oracle.std is not None else "")


def after_label(steps: int, note: str = "") -> str:
    """The legend's name for the fit after ``steps`` steps; a flat learner's says why."""
    label = f"after {steps} step{'s' if steps != 1 else ''}"
    return f"{label} ({note})" if note else label


class TaskPlot(pg.PlotWidget):
    """Truth, support (triangles) and query points, fits before/after k steps, the
    intermediate steps on a colour ramp, the predictive mean with its +-2 std band and
    function samples, and the family's oracle; this task's MSE in the title and the
    legend below the axes, so neither covers data; a hint for what to do when useful.

    ``clicked(x, y, button)`` reports mouse clicks in data coordinates. In draw mode
    (:meth:`set_draw_mode`) a drag draws a curve instead, reported on release as
    ``truth_drawn(xs, ys)`` (numpy arrays in data coordinates, in stroke order).
    """

    clicked = Signal(float, float, object)
    truth_drawn = Signal(object, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        item.setMenuEnabled(False)
        item.getViewBox().setMouseEnabled(x=False, y=False)  # clicks edit points, not the view
        self.band = BandItems(item, POST_COLOUR, MEAN_PEN, "predictive mean")
        self.oracle = oracle_items(item, 2.5, ORACLE_LABEL)
        self.ramp = [item.plot(pen=pg.mkPen(_ramp_colour(i, MAX_RAMP_STEPS), width=1)) for i in range(MAX_RAMP_STEPS)]
        # connect="finite": a drawn truth is nan outside the span the user drew (a gap).
        self.truth = item.plot(pen=TRUTH_PEN, name="ground truth", connect="finite")
        self.pre = item.plot(pen=PRE_PEN, name="pre-update (0 steps)")
        self.post = item.plot(pen=POST_PEN, name="after 1 step")
        self.query = pg.ScatterPlotItem(symbol="o", size=8, pen=pg.mkPen("#2ca02c", width=1.5),
                                        brush=pg.mkBrush(None), name="query points")
        self.support = pg.ScatterPlotItem(symbol="t1", size=13, pen=pg.mkPen("k"),
                                          brush=pg.mkBrush("#9467bd"), name="used for grad")
        self.support.setZValue(5)
        item.addItem(self.query)
        item.addItem(self.support)
        self.sketch = item.plot(pen=SKETCH_PEN)  # the stroke while the user draws the truth
        self.sketch.setZValue(10)
        self.legend = legend_below(item)
        # A hint for a newcomer (what to do first; how to add points), bottom centre.
        self.hint = pg.TextItem(color=TEXT_COLOUR, anchor=(0.5, 1), fill=pg.mkBrush(255, 255, 240, 235),
                                border=pg.mkPen("#b0a060"))
        font = self.hint.textItem.font()
        font.setPointSize(HINT_FONT_PT)
        self.hint.setFont(font)
        self.hint.setZValue(20)
        self.hint.setVisible(False)
        item.addItem(self.hint, ignoreBounds=True)
        cache_axes(item)
        self.scene().sigMouseClicked.connect(self._on_click)
        self._amplitude_max = 5.0
        self._x_range = (-5.0, 5.0)
        self.title_text = ""
        self.draw_mode = False
        self._stroke: list[tuple[float, float]] | None = None
        self._legend_entries([])

    def set_ranges(self, x_min: float, x_max: float, amplitude_max: float) -> None:
        """A fixed view: the family's x range and +-(its bound on |y|), so curves never jump."""
        self._amplitude_max = amplitude_max
        self._x_range = (x_min, x_max)
        pad = 0.5
        self.getPlotItem().setRange(xRange=(x_min, x_max), yRange=(-amplitude_max - pad, amplitude_max + pad),
                                    padding=0)
        self.hint.setPos((x_min + x_max) / 2, -amplitude_max - pad + 0.15)

    def set_hint(self, text: str) -> None:
        """Show ``text`` on the canvas (empty: no hint)."""
        if text != self.hint.toPlainText() or bool(text) != self.hint.isVisible():
            self.hint.setText(text)
            self.hint.setVisible(bool(text))

    def draw(self, view: AdaptationView, sample: TaskSample, show_query: bool, show_steps: bool,
             oracle: OracleView | None = None) -> None:
        """``view`` (the learner's band and samples drawn where it has them); ``oracle``:
        the family's oracle, or None to hide it."""
        steps = view.trajectory.shape[0] - 1
        self.truth.setData(view.x, view.truth)
        self.pre.setData(view.x, view.pre)
        self.post.setData(view.x, view.post)
        self.post.setVisible(steps > 0)
        self.post.opts["name"] = after_label(steps)  # the CSV exporter's column name
        self.band.draw(view.x, view.mean, view.std, view.samples)
        self.oracle.draw(view.x, None if oracle is None else oracle.mean, None if oracle is None else oracle.std)
        if oracle is not None:
            self.oracle.mean.opts["name"] = oracle_legend(oracle)  # the CSV exporter's column name
        # A learner without gradient steps draws the same curve at every step: no ramp.
        ramp = show_steps and not view.note
        for i, curve in enumerate(self.ramp, start=1):
            visible = ramp and i < steps
            curve.setVisible(visible)
            if visible:
                curve.setPen(pg.mkPen(_ramp_colour(i, steps), width=1))
                curve.setData(view.x, view.trajectory[i])
        self.support.setData(sample.x_support, sample.y_support)
        self.query.setData(sample.x_query, sample.y_query)
        self.query.setVisible(show_query)
        self._legend_entries(self._entries(view, steps, show_query, oracle))
        after = f", after {steps} step{'s' if steps != 1 else ''} {_fmt(view.post_mse)}" if steps else ""
        best = f", {oracle.name} {_fmt(oracle.mse)}" if oracle is not None else ""
        drawn = ", a drawn truth" if sample.drawn is not None else ""
        points = "point" if sample.shots == 1 else "points"
        title = f"MSE on this task: pre-update {_fmt(view.pre_mse)}{after}{best}   (K = {sample.shots} {points}{drawn})"
        if title != self.title_text:
            self.title_text = title
            self.getPlotItem().setTitle(title, color=TEXT_COLOUR, size="10pt")

    def _entries(self, view: AdaptationView, steps: int, show_query: bool,
                 oracle: OracleView | None) -> list[tuple[object, str, str]]:
        """Only what is drawn: no crossed-out icon for a hidden curve or hidden points."""
        entries = [(self.truth, "ground truth", DEFINITIONS["ground truth"]),
                   (self.pre, "pre-update (0 steps)", DEFINITIONS["pre-update"])]
        if steps:
            tip = DEFINITIONS["after"] + (f" This learner takes none: {view.note}." if view.note else "")
            entries.append((self.post, after_label(steps, view.note), tip))
        if view.mean is not None:
            entries.append((self.band.legend_sample, "predictive mean \u00b1 2 std", DEFINITIONS["band"]))
        if view.samples is not None:
            entries.append((self.band.sample_legend, f"{len(view.samples)} function samples", DEFINITIONS["samples"]))
        if oracle is not None:
            entries.append((self.oracle.legend_sample if oracle.std is not None else self.oracle.mean,
                            oracle_legend(oracle), DEFINITIONS["oracle"]))
        if show_query:
            entries.append((self.query, "query points", DEFINITIONS["query points"]))
        entries.append((self.support, "used for grad", DEFINITIONS["used for grad"]))
        return entries

    def _legend_entries(self, entries: list[tuple[object, str, str]]) -> None:
        set_legend(self.legend, entries)
        set_columns(self.legend, fitting_columns(self.legend, self.width() - LEGEND_MARGIN_PX))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if "legend" in self.__dict__:  # pyqtgraph resizes once before __init__ made it
            # Before the resize lays the plot out, so that layout places the legend.
            set_columns(self.legend, fitting_columns(self.legend, event.size().width() - LEGEND_MARGIN_PX))
        super().resizeEvent(event)

    def y_scale(self) -> float:
        """Data units of y per unit of x as drawn, to measure "nearest" on screen."""
        (x0, x1), (y0, y1) = self.getPlotItem().viewRange()
        box = self.getPlotItem().getViewBox().sceneBoundingRect()
        return ((x1 - x0) / max(box.width(), 1)) / ((y1 - y0) / max(box.height(), 1))

    def _on_click(self, event) -> None:
        box = self.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(event.scenePos()):
            return
        point = box.mapSceneToView(event.scenePos())
        self.clicked.emit(point.x(), point.y(), event.button())

    # --- drawing the truth by hand -------------------------------------------------------
    def set_draw_mode(self, on: bool) -> None:
        """In draw mode a left drag draws a curve (clicks no longer add points)."""
        self.draw_mode = bool(on)
        self._stroke = None
        self.sketch.setData([], [])
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def _data_point(self, event) -> tuple[float, float]:
        point = self.getPlotItem().getViewBox().mapSceneToView(self.mapToScene(event.position().toPoint()))
        return point.x(), point.y()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.draw_mode and event.button() == Qt.MouseButton.LeftButton:
            self._stroke = [self._data_point(event)]
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self._stroke is not None:
            self._stroke.append(self._data_point(event))
            self.sketch.setData(*np.array(self._stroke).T)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self._stroke is not None:
            stroke = np.array(self._stroke + [self._data_point(event)])
            self._stroke = None
            self.sketch.setData([], [])
            event.accept()
            self.truth_drawn.emit(stroke[:, 0], stroke[:, 1])
            return
        super().mouseReleaseEvent(event)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "diverged"
