"""Pieces every plot shares: a legend below the data (never on it), a log axis whose
labels never crowd, and the one-line definitions shown as tooltips.

pyqtgraph anchors a legend inside the view box, over the curves; :func:`legend_below`
puts it in the plot item's own grid instead (the row under the x axis), so it is part
of every export of the plot and covers nothing.
"""

from __future__ import annotations

import math
import types

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem

TEXT_COLOUR = "#222222"
LEGEND_ROW = 4  # PlotItem's grid: 0 title, 1 top axis, 2 view box, 3 bottom axis

# What each drawn thing is, for a newcomer: shown as tooltips on legend entries and controls.
DEFINITIONS = {
    "ground truth": "Ground truth: the true function of this task (drawn at random from the task family, "
                    "or by hand with \"Draw the truth\").",
    "pre-update": "Pre-update: the prediction before any adaptation step, the meta-learned starting point "
                  "(the same for every task).",
    "after": "After k steps: the prediction after k gradient steps on the triangles only "
             "(k = Adapt steps, step size = Adapt lr).",
    "query points": "Query points: more points of the same task, never used for adaptation; "
                    "held-out MSE is measured on points like these.",
    "used for grad": "Used for grad: the K support points the learner adapts on. "
                     "Click the plot to add one, right-click to remove the nearest.",
    "band": "Predictive mean \u00b1 2 std: the learner's own uncertainty after adapting to the triangles "
            "(the label noise included). About 95% of new points should fall in the band; it narrows "
            "where there are points.",
    "samples": "Function samples: whole functions drawn from the learner's posterior, each one a task it "
               "thinks this could be. They agree near the triangles and spread where it has seen nothing.",
    "oracle": "The oracle: a prediction from the same triangles that knows the task family. \"Best possible\" "
              "where it is exact: the posterior of a Gaussian process; for sinusoids, least squares on sin x and "
              "cos x (their true form) from two or more noise-free points. There the distance of a learner to it "
              "is what meta-learning can still gain. \"Least squares\" where it is not exact (label noise, or "
              "one point): a fit of the true form that ignores the prior, which a learner can beat.",
    "meta-training loss": "Meta-training loss: the loss of each meta-step, on its own batch of training tasks.",
    "held-out pre": "Held-out MSE, pre-update: on tasks never trained on, before adapting. For MAML it stays "
                    "near 3: the starting point fits no single task, it is a place to adapt from.",
    "held-out post": "Held-out MSE after 1 step: the same tasks after one gradient step on K points: "
                     "this is what meta-training lowers.",
}


def legend_columns(width: float, entries: int, per_entry: int = 175) -> int:
    """Legend columns that fit ``width`` pixels (at least one, at most one row)."""
    return max(1, min(entries, int(width // per_entry)))


def fitting_columns(legend: pg.LegendItem, width: float) -> int:
    """The most columns in which ``legend``'s entries fit ``width`` pixels (pyqtgraph fills
    them row by row; a column is as wide as its widest entry); at least one."""
    # + the gaps pyqtgraph leaves around the sample and the label (measured: about 16 pixels).
    sizes = [sample.boundingRect().width() + label.minimumWidth() + 18 for sample, label in legend.items]
    for columns in range(len(sizes), 1, -1):
        if sum(max(sizes[c::columns]) for c in range(columns)) <= width:
            return columns
    return 1


def set_columns(legend: pg.LegendItem, columns: int) -> None:
    """Lay ``legend`` out in ``columns`` columns. pyqtgraph's legend then moves itself to
    (0, 0) of its parent; the layout that holds it must place it again."""
    if columns != legend.columnCount:
        legend.setColumnCount(columns)
        legend.updateGeometry()


def legend_below(item: pg.PlotItem, columns: int = 3) -> pg.LegendItem:
    """A legend in ``item``'s grid below the x axis, laid out in ``columns`` columns.
    Entries are added by the caller (``legend.addItem(curve, label)``)."""
    legend = pg.LegendItem(offset=None, labelTextSize="9pt", labelTextColor=TEXT_COLOUR, colCount=columns)
    item.layout.addItem(legend, LEGEND_ROW, 1)
    item.layout.setRowStretchFactor(LEGEND_ROW, 0)
    return legend


def set_legend(legend: pg.LegendItem, entries: list[tuple[object, str, str]]) -> None:
    """Show exactly ``entries`` (item, label, tooltip), in order: a hidden curve is left out
    rather than shown with pyqtgraph's crossed-out icon. Rebuilt only when they change."""
    wanted = [(id(item), label) for item, label, _ in entries]
    if getattr(legend, "_metaviz_entries", None) == wanted:
        return
    legend.clear()
    for item, label, tip in entries:
        legend.addItem(item, label)
        sample, text = legend.items[-1]
        sample.setToolTip(tip)
        text.setToolTip(tip)
    legend._metaviz_entries = wanted
    legend.updateGeometry()  # it moved itself to (0, 0): see set_columns


def legend_labels(legend: pg.LegendItem) -> list[str]:
    """The labels shown, in order (tests and exports read them)."""
    return [label.text for _, label in legend.items]


class LogAxis(pg.AxisItem):
    """A log axis labelled only at 1, 2 and 5 times a power of ten, and only at the powers
    once it spans two decades: labels never crowd (1/0.9/0.8/0.7/0.6 overlapped)."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        span = abs(self.range[1] - self.range[0])
        keep = (1.0,) if span >= 2 else (1.0, 2.0, 5.0)
        strings = []
        for value in values:
            x = 10 ** float(value) * scale
            mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9)
            strings.append(f"{x:g}" if any(abs(mantissa - m) < 1e-6 * m for m in keep) else "")
        return strings


def log_axis(orientation: str = "left") -> LogAxis:
    axis = LogAxis(orientation)
    axis.setTextPen(TEXT_COLOUR)
    return axis


def cache_axes(item: pg.PlotItem) -> None:
    """Axes change rarely: paint them from a pixmap cache. Repainting them for every new
    frame would cost the GUI thread (and, through the GIL, the worker)."""
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        axis.setTextPen(TEXT_COLOUR)  # the default grey is hard to read on white
    item.setContentsMargins(2, 2, 14, 2)  # room for the last x label ("500" was cut at the edge)


def _update_min_without_width(label: pg.LabelItem) -> None:
    pg.LabelItem.updateMin(label)
    height = label._sizeHint[Qt.SizeHint.MinimumSize][1]
    label.setMinimumWidth(0)
    for hint in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
        label._sizeHint[hint] = (0, height)
    label.updateGeometry()


def shrinkable_title(item: pg.PlotItem) -> None:
    """``item``'s title asks for no width: a long one is cut at the edge of the plot instead
    of widening it (side-by-side panes stay equal; a narrow window shows every pane)."""
    label = item.titleLabel
    label.updateMin = types.MethodType(_update_min_without_width, label)  # pyqtgraph calls it on each resize
    label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
    label.updateMin()
