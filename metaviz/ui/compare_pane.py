"""One Compare pane: a learner's fit on the shared task, its band, function samples and
the family's oracle; and the text both Compare layouts write about a fit.

Items are created once; :meth:`Pane.draw` only calls setData.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt

from ..adaptation import AdaptationView, OracleView
from ..task_history import TaskSample
from .plot_parts import TEXT_COLOUR, cache_axes, shrinkable_title
from .plots import ORACLE_LABEL, TRUTH_PEN, oracle_legend
from .uncertainty import BandItems, oracle_items

SUPPORT = {"symbol": "t1", "size": 11, "pen": pg.mkPen("k"), "brush": pg.mkBrush("#9467bd")}
NEUTRAL = "#555555"  # the shared legend's samples: the style, not one learner's colour
NOTE_COLOUR = "#666666"


def fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "diverged"


def mse_line(view: AdaptationView, steps: int) -> str:
    """This task's MSE before and after ``steps`` steps, and why they are equal if they must be."""
    line = f"MSE pre {fmt(view.pre_mse)}"
    if steps:
        line += f", after {steps} {steps_word(steps)} {fmt(view.post_mse)}"
    return f"{line} ({view.note})" if view.note else line


def steps_word(steps: int) -> str:
    return "step" if steps == 1 else "steps"


def mean_pen(colour: str):
    return pg.mkPen(colour, width=1.2, style=Qt.PenStyle.DotLine)


def oracle_label(oracle: OracleView) -> str:
    """The oracle's entry in a Compare legend: :func:`~.plots.oracle_legend` and its MSE."""
    return f"{oracle_legend(oracle)} (MSE {fmt(oracle.mse)})"


class Pane:
    """One plot's items, created once; :meth:`draw` only calls setData. The learner's name
    and this task's MSE are the pane's title (never over the curves), with why its curve
    is flat for a learner without gradient steps."""

    def __init__(self, item: pg.PlotItem, name: str, colour: str) -> None:
        self.item, self.name, self.colour = item, name, colour
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        cache_axes(item)
        shrinkable_title(item)  # a long name is cut, it never widens its pane
        self.band = BandItems(item, colour, mean_pen(colour), "predictive mean")
        self.oracle = oracle_items(item, 2, ORACLE_LABEL)
        self.truth = item.plot(pen=TRUTH_PEN, name="ground truth", connect="finite")
        self.pre = item.plot(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine), name="pre-update")
        self.post = item.plot(pen=pg.mkPen(colour, width=2.5), name="after k steps")
        self.support = pg.ScatterPlotItem(**SUPPORT)
        self.support.setZValue(5)
        item.addItem(self.support)
        self.title = ""

    def draw(self, view: AdaptationView, sample: TaskSample, steps: int, oracle: OracleView | None,
             note_line: bool = False) -> None:
        """``note_line``: the title has a second line (why the curve is flat, or blank so
        that every pane's axes start at the same height)."""
        self.truth.setData(view.x, view.truth)
        self.pre.setData(view.x, view.pre)
        self.post.setData(view.x, view.post)
        self.band.draw(view.x, view.mean, view.std, view.samples)
        self.oracle.draw(view.x, None if oracle is None else oracle.mean, None if oracle is None else oracle.std)
        if oracle is not None:
            self.oracle.mean.opts["name"] = oracle_legend(oracle)  # the CSV exporter's column name
        self.support.setData(sample.x_support, sample.y_support)
        post = f", post {fmt(view.post_mse)}" if steps else ""
        title = f"<span style='color:{self.colour}'>\u25a0</span> {self.name}: MSE pre {fmt(view.pre_mse)}{post}"
        if note_line:
            note = f"flat: {view.note}" if view.note else "&nbsp;"
            title += f"<br><span style='color:{NOTE_COLOUR}'>{note}</span>"
        if title != self.title:
            self.title = title
            self.item.setTitle(title, color=TEXT_COLOUR, size="9pt")
