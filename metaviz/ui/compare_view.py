"""The same task and support points under every learner: side by side or overlaid.

Each learner adapts with its own default test-time rate (for the multi-task model
that rate means something else: a multiplier on conjugate-gradient steps) and the
number of steps the main view's slider sets. Adaptation is pure, so drawing never
changes a learner.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..adaptation import AdaptationView, adapt_view
from ..learners import Learner
from ..task_history import TaskSample
from .colours import kind_colour
from .plot_parts import DEFINITIONS, TEXT_COLOUR, cache_axes, legend_below, set_legend, shrinkable_title
from .plots import TRUTH_PEN

SUPPORT = {"symbol": "t1", "size": 11, "pen": pg.mkPen("k"), "brush": pg.mkBrush("#9467bd")}
NEUTRAL = "#555555"  # the shared legend's samples: the style, not one learner's colour


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "diverged"


def _mse_line(view: AdaptationView, steps: int) -> str:
    return f"MSE pre {_fmt(view.pre_mse)}" + (f", after {steps} {_steps(steps)} {_fmt(view.post_mse)}" if steps else "")


def _steps(steps: int) -> str:
    return "step" if steps == 1 else "steps"


class _Pane:
    """One plot's items, created once; :meth:`draw` only calls setData. The learner's name
    and this task's MSE are the pane's title (never over the curves)."""

    def __init__(self, item: pg.PlotItem, name: str, colour: str) -> None:
        self.item, self.name, self.colour = item, name, colour
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        cache_axes(item)
        shrinkable_title(item)  # a long name is cut, it never widens its pane
        self.truth = item.plot(pen=TRUTH_PEN, name="ground truth")
        self.pre = item.plot(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine), name="pre-update")
        self.post = item.plot(pen=pg.mkPen(colour, width=2.5), name="after k steps")
        self.support = pg.ScatterPlotItem(**SUPPORT)
        item.addItem(self.support)
        self.title = ""

    def draw(self, view: AdaptationView, sample: TaskSample, steps: int) -> None:
        self.truth.setData(view.x, view.truth)
        self.pre.setData(view.x, view.pre)
        self.post.setData(view.x, view.post)
        self.support.setData(sample.x_support, sample.y_support)
        post = f", post {_fmt(view.post_mse)}" if steps else ""
        title = f"<span style='color:{self.colour}'>\u25a0</span> {self.name}: MSE pre {_fmt(view.pre_mse)}{post}"
        if title != self.title:
            self.title = title
            self.item.setTitle(title, color=TEXT_COLOUR, size="9pt")


class CompareView(QWidget):
    """``set_learners`` / ``set_task`` / ``set_steps``; redraws once per event-loop turn.

    ``views`` holds what is drawn (name -> :class:`AdaptationView`), for tests and exports.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learners: dict[str, Learner] = {}
        self.colours: dict[str, str] = {}
        self.sample: TaskSample | None = None
        self.steps = 1
        self.views: dict[str, AdaptationView] = {}
        self.overlay = QCheckBox("Overlay in one plot")
        self.overlay.setToolTip("Draw every learner's fit on one plot instead of one pane each")
        self.overlay.toggled.connect(self._rebuild)
        self.empty = QLabel("Train a learner (or load a checkpoint) to compare it here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        top = QHBoxLayout()
        top.addWidget(self.overlay)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(self.canvas, 1)
        self._panes: dict[str, _Pane] = {}
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(0)  # coalesce bursts of edits into one redraw
        self._redraw.timeout.connect(self.redraw)
        self._rebuild()

    # --- inputs ---------------------------------------------------------------------
    def set_learners(self, learners: dict[str, Learner], colours: dict[str, str] | None = None) -> None:
        """Name -> learner (used from the GUI thread only), and name -> colour (default: the
        colour of each learner's kind). Rebuilds panes if names or colours change."""
        colours = {name: (colours or {}).get(name) or kind_colour(learner.kind) for name, learner in learners.items()}
        changed = list(learners) != list(self.learners) or colours != self.colours
        self.learners = dict(learners)
        self.colours = colours
        if changed:
            self._rebuild()
        else:
            self._schedule()

    def set_task(self, sample: TaskSample) -> None:
        self.sample = sample
        self._schedule()

    def set_steps(self, steps: int) -> None:
        self.steps = int(steps)
        self._schedule()

    def _legend_columns(self, entries: int) -> int:
        return max(1, min(entries, (self.width() - 20) // 150))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Fewer legend columns in a narrow window, so the legend never pushes a pane out of sight."""
        super().resizeEvent(event)
        legend = getattr(self, "legend", None)
        if legend is not None and legend.scene() is not None:
            legend.setColumnCount(self._legend_columns(len(legend.items)))
        overlay = getattr(self, "_overlay_legend", None)
        if overlay is not None and overlay.scene() is not None:
            overlay.setColumnCount(1 if self.width() < 900 else 2)
        self.canvas.resizeEvent(None)  # fit the layout to the view again with its new minimum

    def _schedule(self) -> None:
        """Redraw on the next event-loop turn. A pending redraw is not restarted: restarting
        it on every frame starved it on a busy GUI thread (the panes stayed empty)."""
        if not self._redraw.isActive():
            self._redraw.start()

    # --- drawing --------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.canvas.clear()
        self._panes = {}
        names = list(self.learners)
        self.empty.setVisible(not names)
        self.canvas.setVisible(bool(names))
        layout = self.canvas.ci.layout
        if self.overlay.isChecked() and names:
            item = self.canvas.addPlot(row=0, col=0)
            self._overlay_item = item
            self._overlay_truth = item.plot(pen=TRUTH_PEN, name="ground truth")
            self._overlay_support = pg.ScatterPlotItem(**SUPPORT, name="used for grad")
            item.addItem(self._overlay_support)
            self._overlay_curves = {
                name: (item.plot(pen=pg.mkPen(self.colours[name], width=1.2, style=Qt.PenStyle.DashLine)),
                       item.plot(pen=pg.mkPen(self.colours[name], width=2.5), name=name))
                for name in names
            }
            # Per learner: its colour and its MSE on this task, below the plot.
            self._overlay_legend = legend_below(item, columns=1 if self.width() < 900 else 2)
            item.setTitle("dashed: pre-update; solid: after k steps", color=TEXT_COLOUR, size="10pt")
        elif names:
            columns = 2 if len(names) > 1 else 1
            first = None
            for i, name in enumerate(names):
                item = self.canvas.addPlot(row=i // columns, col=i % columns)
                if first is None:
                    first = item
                else:  # linked axes: every pane shows the same window onto x and y
                    item.setXLink(first)
                    item.setYLink(first)
                self._panes[name] = _Pane(item, name, self.colours[name])
            for col in range(columns):  # equal widths, whatever each pane's title or labels
                layout.setColumnStretchFactor(col, 1)
                layout.setColumnPreferredWidth(col, 1)
            rows = -(-len(names) // columns)
            for row in range(rows):
                layout.setRowStretchFactor(row, 1)
            # One legend for every pane: the styles (each pane's colour is in its title).
            legend = pg.LegendItem(labelTextSize="9pt", labelTextColor=TEXT_COLOUR, colCount=self._legend_columns(4))
            self.canvas.addItem(legend, row=rows, col=0, colspan=columns)
            layout.setRowStretchFactor(rows, 0)
            self._legend_samples = [
                pg.PlotDataItem(pen=TRUTH_PEN), pg.PlotDataItem(pen=pg.mkPen(NEUTRAL, width=1.5,
                                                                              style=Qt.PenStyle.DashLine)),
                pg.PlotDataItem(pen=pg.mkPen(NEUTRAL, width=2.5)), pg.ScatterPlotItem(**SUPPORT)]
            self.legend = legend
        self.redraw()
        self.canvas.resizeEvent(None)  # fit the new layout to the view

    def redraw(self) -> None:
        """Adapt every learner to the current task and draw it."""
        self._redraw.stop()
        if self.sample is None or not self.learners:
            self.views = {}
            return
        self.views = {name: adapt_view(learner, self.sample, self.steps, None)
                      for name, learner in self.learners.items()}
        family = self.sample.family
        x_min, x_max = family.ranges["x"]
        y_top = family.y_bound() + 0.5
        if self.overlay.isChecked():
            any_view = next(iter(self.views.values()))
            self._overlay_truth.setData(any_view.x, any_view.truth)
            self._overlay_support.setData(self.sample.x_support, self.sample.y_support)
            for name, (pre, post) in self._overlay_curves.items():
                view = self.views[name]
                pre.setData(view.x, view.pre)
                post.setData(view.x, view.post)
            entries = [(self._overlay_truth, "ground truth", DEFINITIONS["ground truth"]),
                       (self._overlay_support, "used for grad", DEFINITIONS["used for grad"])]
            entries += [(post, f"{name}: {_mse_line(self.views[name], self.steps)}", DEFINITIONS["after"])
                        for name, (_, post) in self._overlay_curves.items()]
            set_legend(self._overlay_legend, entries)
            self._overlay_item.setRange(xRange=(x_min, x_max), yRange=(-y_top, y_top), padding=0)
        else:
            for name, pane in self._panes.items():
                pane.draw(self.views[name], self.sample, self.steps)
            truth, pre, post, support = self._legend_samples
            set_legend(self.legend, [(truth, "ground truth", DEFINITIONS["ground truth"]),
                                     (pre, "pre-update", DEFINITIONS["pre-update"]),
                                     (post, f"after {self.steps} {_steps(self.steps)}", DEFINITIONS["after"]),
                                     (support, "used for grad", DEFINITIONS["used for grad"])])
            if self._panes:
                first = next(iter(self._panes.values())).item
                first.setRange(xRange=(x_min, x_max), yRange=(-y_top, y_top), padding=0)
