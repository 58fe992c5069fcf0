"""The task plot (the MAML paper's figure, live) and the training curves.

Every plot item is created once; updates only call ``setData``. Each curve has a
``name=`` so pyqtgraph's CSV exporter labels it. Legends sit below the axes and the
task's MSE in the title: nothing is drawn over the data but the data.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from ..adaptation import AdaptationView
from ..task_history import TaskSample
from .plot_parts import DEFINITIONS, TEXT_COLOUR, cache_axes, legend_below, log_axis, set_legend

MAX_RAMP_STEPS = 20
TRUTH_PEN = pg.mkPen("#222222", width=2.5)
PRE_PEN = pg.mkPen("#1f77b4", width=2, style=Qt.PenStyle.DashLine)
POST_PEN = pg.mkPen("#d62728", width=2.5)
HINT_FONT_PT = 11


def _ramp_colour(step: int, steps: int) -> tuple[int, int, int, int]:
    """From the pre-adaptation blue towards the post-adaptation red, semi-transparent."""
    t = step / max(steps, 1)
    return (int(31 + t * (214 - 31)), int(119 + t * (39 - 119)), int(180 + t * (40 - 180)), 110)


def _columns(width: float, entries: int, per_entry: int = 175) -> int:
    """Legend columns that fit ``width`` pixels (at least one, at most one row)."""
    return max(1, min(entries, int(width // per_entry)))


class TaskPlot(pg.PlotWidget):
    """Truth, support (triangles) and query points, fits before/after k steps, the
    intermediate steps on a colour ramp; this task's pre/post MSE in the title and the
    legend below the axes, so neither covers data; a hint for what to do when useful.

    ``clicked(x, y, button)`` reports mouse clicks in data coordinates.
    """

    clicked = Signal(float, float, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        item.setMenuEnabled(False)
        item.getViewBox().setMouseEnabled(x=False, y=False)  # clicks edit points, not the view
        self.ramp = [item.plot(pen=pg.mkPen(_ramp_colour(i, MAX_RAMP_STEPS), width=1)) for i in range(MAX_RAMP_STEPS)]
        self.truth = item.plot(pen=TRUTH_PEN, name="ground truth")
        self.pre = item.plot(pen=PRE_PEN, name="pre-update (0 steps)")
        self.post = item.plot(pen=POST_PEN, name="after 1 step")
        self.query = pg.ScatterPlotItem(symbol="o", size=8, pen=pg.mkPen("#2ca02c", width=1.5),
                                        brush=pg.mkBrush(None), name="query points")
        self.support = pg.ScatterPlotItem(symbol="t1", size=13, pen=pg.mkPen("k"),
                                          brush=pg.mkBrush("#9467bd"), name="used for grad")
        item.addItem(self.query)
        item.addItem(self.support)
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
        self._legend_entries(1, False)

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

    def draw(self, view: AdaptationView, sample: TaskSample, show_query: bool, show_steps: bool) -> None:
        steps = view.trajectory.shape[0] - 1
        self.truth.setData(view.x, view.truth)
        self.pre.setData(view.x, view.pre)
        self.post.setData(view.x, view.post)
        self.post.setVisible(steps > 0)
        label = f"after {steps} step{'s' if steps != 1 else ''}"
        self.post.opts["name"] = label  # the CSV exporter's column name
        for i, curve in enumerate(self.ramp, start=1):
            visible = show_steps and i < steps
            curve.setVisible(visible)
            if visible:
                curve.setPen(pg.mkPen(_ramp_colour(i, steps), width=1))
                curve.setData(view.x, view.trajectory[i])
        self.support.setData(sample.x_support, sample.y_support)
        self.query.setData(sample.x_query, sample.y_query)
        self.query.setVisible(show_query)
        self._legend_entries(steps, show_query)
        after = f", after {steps} step{'s' if steps != 1 else ''} {_fmt(view.post_mse)}" if steps else ""
        title = f"MSE on this task: pre-update {_fmt(view.pre_mse)}{after}   (K = {sample.shots} points)"
        if title != self.title_text:
            self.title_text = title
            self.getPlotItem().setTitle(title, color=TEXT_COLOUR, size="10pt")

    def _legend_entries(self, steps: int, show_query: bool) -> None:
        """Only what is drawn: no crossed-out icon for a hidden curve or hidden points."""
        entries = [(self.truth, "ground truth", DEFINITIONS["ground truth"]),
                   (self.pre, "pre-update (0 steps)", DEFINITIONS["pre-update"])]
        if steps:
            entries.append((self.post, f"after {steps} step{'s' if steps != 1 else ''}", DEFINITIONS["after"]))
        if show_query:
            entries.append((self.query, "query points", DEFINITIONS["query points"]))
        entries.append((self.support, "used for grad", DEFINITIONS["used for grad"]))
        self.legend.setColumnCount(_columns(self.width(), len(entries)))
        set_legend(self.legend, entries)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if "legend" in self.__dict__:  # pyqtgraph resizes once before __init__ made it
            self.legend.setColumnCount(_columns(self.width(), len(self.legend.items)))

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


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "diverged"


class GrowingSeries:
    """An append-only float64 column that doubles its storage, so appends are O(1)."""

    def __init__(self) -> None:
        self._data = np.empty(1024)
        self._size = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=np.float64)
        while self._size + len(values) > len(self._data):
            self._data = np.concatenate([self._data, np.empty(len(self._data))])
        self._data[self._size:self._size + len(values)] = values
        self._size += len(values)

    def clear(self) -> None:
        self._size = 0

    @property
    def values(self) -> np.ndarray:
        return self._data[:self._size]


class TrainingPlot(pg.PlotWidget):
    """Meta-training loss per iteration and held-out MSE before/after adaptation, log y.

    Curves grow for the whole run: pyqtgraph downsamples and clips them to the view.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w", axisItems={"left": log_axis()})
        item = self.getPlotItem()
        item.setLogMode(y=True)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "meta-iteration")
        item.setLabel("left", "MSE (log scale)")
        cache_axes(item)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        self.loss = item.plot(pen=pg.mkPen("#7f7f7f", width=1), name="meta-training loss")
        self.val_pre = item.plot(pen=pg.mkPen("#1f77b4", width=2, style=Qt.PenStyle.DashLine),
                                 symbol="o", symbolSize=4, name="held-out MSE, pre-update")
        self.val_post = item.plot(pen=pg.mkPen("#d62728", width=2), symbol="o", symbolSize=4,
                                  name="held-out MSE, after 1 step")
        self.legend = legend_below(item, columns=3)
        set_legend(self.legend, [(self.loss, "meta-training loss", DEFINITIONS["meta-training loss"]),
                                 (self.val_pre, "held-out, pre-update", DEFINITIONS["held-out pre"]),
                                 (self.val_post, "held-out, after 1 step", DEFINITIONS["held-out post"])])
        self._columns = {name: GrowingSeries() for name in ("it", "loss", "val_it", "val_pre", "val_post")}
        self._dirty = False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if "legend" in self.__dict__:
            self.legend.setColumnCount(_columns(self.width(), len(self.legend.items), per_entry=180))

    def clear_history(self) -> None:
        for column in self._columns.values():
            column.clear()
        self._dirty = True

    def append(self, losses, validations) -> None:
        """Add (iteration, loss) pairs and :class:`ValidationPoint` s; drawn on :meth:`refresh`."""
        c = self._columns
        if losses:
            its, values = zip(*losses)
            c["it"].extend(its)
            c["loss"].extend(values)
        if validations:
            c["val_it"].extend([v.iteration for v in validations])
            c["val_pre"].extend([v.mse[0] for v in validations])
            c["val_post"].extend([v.mse[1] for v in validations])
        self._dirty = self._dirty or bool(losses or validations)

    def refresh(self) -> None:
        """Push new data to the curves, if any arrived since the last call."""
        if not self._dirty:
            return
        self._dirty = False
        c = self._columns
        self.loss.setData(c["it"].values, _positive(c["loss"].values))
        self.val_pre.setData(c["val_it"].values, _positive(c["val_pre"].values))
        self.val_post.setData(c["val_it"].values, _positive(c["val_post"].values))


def _positive(values: np.ndarray) -> np.ndarray:
    """Log axes cannot show 0 or non-finite values: show them as gaps (nan)."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)
