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
from ..learners import Learner, learner_spec
from ..task_history import TaskSample
from .plots import TRUTH_PEN

# Colour-blind-safe (Okabe-Ito), one per learner in the order they were added.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _colour(learner: Learner, index: int) -> str:
    """The learner's declared colour: one colour per learner in every view."""
    try:
        return learner_spec(learner.kind).colour
    except ValueError:
        return PALETTE[index % len(PALETTE)]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "diverged"


class _Pane:
    """One plot's items, created once; :meth:`draw` only calls setData."""

    def __init__(self, item: pg.PlotItem, title: str, colour: str) -> None:
        self.item = item
        item.setTitle(title, color="#222222", size="11pt")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        self.truth = item.plot(pen=TRUTH_PEN, name="ground truth")
        self.pre = item.plot(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine), name="pre-update")
        self.post = item.plot(pen=pg.mkPen(colour, width=2.5), name="after k steps")
        self.support = pg.ScatterPlotItem(symbol="t1", size=11, pen=pg.mkPen("k"), brush=pg.mkBrush("#9467bd"))
        item.addItem(self.support)
        self.text = pg.TextItem(color="#222222", anchor=(1, 0), fill=pg.mkBrush(255, 255, 255, 200))
        item.addItem(self.text, ignoreBounds=True)

    def draw(self, view: AdaptationView, sample: TaskSample, y_top: float) -> None:
        self.truth.setData(view.x, view.truth)
        self.pre.setData(view.x, view.pre)
        self.post.setData(view.x, view.post)
        self.support.setData(sample.x_support, sample.y_support)
        self.text.setText(f"MSE pre {_fmt(view.pre_mse)}  post {_fmt(view.post_mse)}")
        self.text.setPos(view.x[-1], y_top)


class CompareView(QWidget):
    """``set_learners`` / ``set_task`` / ``set_steps``; redraws once per event-loop turn.

    ``views`` holds what is drawn (name -> :class:`AdaptationView`), for tests and exports.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learners: dict[str, Learner] = {}
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
    def set_learners(self, learners: dict[str, Learner]) -> None:
        """Name -> learner (used from the GUI thread only). Rebuilds panes if names change."""
        changed = list(learners) != list(self.learners)
        self.learners = dict(learners)
        if changed:
            self._rebuild()
        else:
            self._redraw.start()

    def set_task(self, sample: TaskSample) -> None:
        self.sample = sample
        self._redraw.start()

    def set_steps(self, steps: int) -> None:
        self.steps = int(steps)
        self._redraw.start()

    # --- drawing --------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.canvas.clear()
        self._panes = {}
        names = list(self.learners)
        self.empty.setVisible(not names)
        self.canvas.setVisible(bool(names))
        if self.overlay.isChecked() and names:
            item = self.canvas.addPlot(row=0, col=0)
            item.addLegend(offset=(10, 10), labelTextColor="#222222", brush=pg.mkBrush(255, 255, 255, 210))
            self._overlay_item = item
            self._overlay_truth = item.plot(pen=TRUTH_PEN, name="ground truth")
            self._overlay_support = pg.ScatterPlotItem(symbol="t1", size=11, pen=pg.mkPen("k"),
                                                       brush=pg.mkBrush("#9467bd"), name="used for grad")
            item.addItem(self._overlay_support)
            self._overlay_text = pg.TextItem(color="#222222", anchor=(1, 0), fill=pg.mkBrush(255, 255, 255, 200))
            item.addItem(self._overlay_text, ignoreBounds=True)
            self._overlay_curves = {
                name: (item.plot(pen=pg.mkPen(_colour(self.learners[name], i), width=1.2, style=Qt.PenStyle.DashLine)),
                       item.plot(pen=pg.mkPen(_colour(self.learners[name], i), width=2.5), name=name))
                for i, name in enumerate(names)
            }
        else:
            columns = 2 if len(names) > 1 else 1
            first = None
            for i, name in enumerate(names):
                item = self.canvas.addPlot(row=i // columns, col=i % columns)
                if first is None:
                    first = item
                else:  # linked axes: every pane shows the same window onto x and y
                    item.setXLink(first)
                    item.setYLink(first)
                self._panes[name] = _Pane(item, name, _colour(self.learners[name], i))
        self.redraw()

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
            self._overlay_text.setText("\n".join(
                f"{name}: MSE pre {_fmt(v.pre_mse)}  post {_fmt(v.post_mse)}" for name, v in self.views.items()))
            self._overlay_text.setPos(x_max, y_top)
            self._overlay_item.setRange(xRange=(x_min, x_max), yRange=(-y_top, y_top), padding=0)
        else:
            for name, pane in self._panes.items():
                pane.draw(self.views[name], self.sample, y_top)
            if self._panes:
                first = next(iter(self._panes.values())).item
                first.setRange(xRange=(x_min, x_max), yRange=(-y_top, y_top), padding=0)
