"""The same task and support points under every learner: side by side or overlaid.

Each learner adapts with its own default test-time rate (for the multi-task model
that rate means something else: a multiplier on conjugate-gradient steps) and the
number of steps the main view's slider sets. Adaptation is pure, so drawing never
changes a learner. A learner with a predictive distribution is drawn with its +-2 std
band (and, on a toggle, function samples where it has a joint posterior); the best
possible answer from the same points is drawn in every pane where the family has one.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..adaptation import SAMPLE_COUNT, AdaptationView, OracleView, adapt_view, oracle_available, oracle_view
from ..learners import Learner
from ..samples import has_function_samples, why_no_samples
from ..task_history import TaskSample
from .colours import kind_colour
from .compare_pane import NEUTRAL, SUPPORT, Pane, mean_pen, mse_line, oracle_label, steps_word
from .plot_parts import DEFINITIONS, TEXT_COLOUR, cache_axes, fitting_columns, legend_below, set_columns, set_legend
from .plots import ORACLE_LABEL, TRUTH_PEN, oracle_legend
from .uncertainty import BAND_ALPHA, ORACLE_COLOUR, BandItems, band_sample, oracle_items, oracle_pen, samples_sample


class CompareView(QWidget):
    """``set_learners`` / ``set_task`` / ``set_steps``; redraws once per event-loop turn.

    ``views`` holds what is drawn (name -> :class:`AdaptationView`) and ``oracle`` the best
    possible answer drawn (None: none), for tests and exports.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learners: dict[str, Learner] = {}
        self.colours: dict[str, str] = {}
        self.sample: TaskSample | None = None
        self.steps = 1
        self.views: dict[str, AdaptationView] = {}
        self.oracle: OracleView | None = None
        self.overlay = QCheckBox("Overlay in one plot")
        self.overlay.setToolTip("Draw every learner's fit on one plot instead of one pane each")
        self.overlay.toggled.connect(self._rebuild)
        self.show_samples = QCheckBox("Function samples")
        self.show_samples.toggled.connect(self._schedule)
        self.show_oracle = QCheckBox("Best possible")
        self.show_oracle.setChecked(True)
        self.show_oracle.toggled.connect(self._schedule)
        self.empty = QLabel("Train a learner (or load a checkpoint) to compare it here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        top = QHBoxLayout()
        for box in (self.overlay, self.show_samples, self.show_oracle):
            top.addWidget(box)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(self.canvas, 1)
        self._panes: dict[str, Pane] = {}
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
        self._update_toggles()
        if changed:
            self._rebuild()
        else:
            self._schedule()

    def set_task(self, sample: TaskSample) -> None:
        self.sample = sample
        self._update_toggles()
        self._schedule()

    def set_steps(self, steps: int) -> None:
        self.steps = int(steps)
        self._schedule()

    def _update_toggles(self) -> None:
        """Samples only where some learner has a joint posterior; the oracle only where known.
        The tooltips say why not."""
        sampled = [name for name, learner in self.learners.items() if has_function_samples(learner)]
        self.show_samples.setEnabled(bool(sampled))
        lines = ["A few whole functions drawn from each learner's posterior"
                 + (f" (here: {', '.join(sampled)})." if sampled else ".")]
        lines += [why_no_samples(learner, name) for name, learner in self.learners.items() if name not in sampled]
        self.show_samples.setToolTip("\n".join(lines))
        missing = oracle_available(self.sample) if self.sample is not None else "no task yet"
        self.show_oracle.setEnabled(not missing)
        self.show_oracle.setToolTip(f"Not available: {missing}." if missing else DEFINITIONS["oracle"])

    def _fit_legends(self) -> None:
        """As many legend columns as fit: a legend never pushes a pane out of sight."""
        for legend, margin in ((getattr(self, "legend", None), 30), (getattr(self, "_overlay_legend", None), 90)):
            if legend is not None and legend.scene() is not None:
                set_columns(legend, fitting_columns(legend, self.width() - margin))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit_legends()
        self.canvas.resizeEvent(None)  # fit the layout to the view again with its new minimum

    def _schedule(self, *_args) -> None:
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
        if self.overlay.isChecked() and names:
            self._build_overlay(names)
        elif names:
            self._build_panes(names)
        self.redraw()
        self.canvas.resizeEvent(None)  # fit the new layout to the view

    def _build_overlay(self, names: list[str]) -> None:
        item = self.canvas.addPlot(row=0, col=0)
        item.showGrid(x=True, y=True, alpha=0.2)
        cache_axes(item)  # dark axis text, as in the panes
        self._overlay_item = item
        self._overlay_oracle = oracle_items(item, 2, ORACLE_LABEL)
        self._overlay_truth = item.plot(pen=TRUTH_PEN, name="ground truth", connect="finite")
        self._overlay_support = pg.ScatterPlotItem(**SUPPORT, name="used for grad")
        self._overlay_support.setZValue(5)
        item.addItem(self._overlay_support)
        self._overlay_bands = {name: BandItems(item, self.colours[name], mean_pen(self.colours[name]),
                                               f"{name} predictive mean") for name in names}
        self._overlay_curves = {
            name: (item.plot(pen=pg.mkPen(self.colours[name], width=1.2, style=Qt.PenStyle.DashLine)),
                   item.plot(pen=pg.mkPen(self.colours[name], width=2.5), name=name))
            for name in names
        }
        # Per learner: its colour and its MSE on this task, below the plot.
        self._overlay_legend = legend_below(item, columns=1)
        item.setTitle("dashed: pre-update; solid: after k steps; shaded: \u00b1 2 std", color=TEXT_COLOUR,
                      size="10pt")

    def _build_panes(self, names: list[str]) -> None:
        layout = self.canvas.ci.layout
        columns = 2 if len(names) > 1 else 1
        first = None
        for i, name in enumerate(names):
            item = self.canvas.addPlot(row=i // columns, col=i % columns)
            if first is None:
                first = item
            else:  # linked axes: every pane shows the same window onto x and y
                item.setXLink(first)
                item.setYLink(first)
            self._panes[name] = Pane(item, name, self.colours[name])
        for col in range(columns):  # equal widths, whatever each pane's title or labels
            layout.setColumnStretchFactor(col, 1)
            layout.setColumnPreferredWidth(col, 1)
        rows = -(-len(names) // columns)
        for row in range(rows):
            layout.setRowStretchFactor(row, 1)
        # One legend for every pane: the styles (each pane's colour is in its title).
        legend = pg.LegendItem(labelTextSize="9pt", labelTextColor=TEXT_COLOUR, colCount=1)
        self.canvas.addItem(legend, row=rows, col=0, colspan=columns)
        layout.setRowStretchFactor(rows, 0)
        dashed = pg.mkPen(NEUTRAL, width=1.5, style=Qt.PenStyle.DashLine)
        self._legend_samples = [pg.PlotDataItem(pen=TRUTH_PEN), pg.PlotDataItem(pen=dashed),
                                pg.PlotDataItem(pen=pg.mkPen(NEUTRAL, width=2.5)), pg.ScatterPlotItem(**SUPPORT)]
        self._legend_band = (band_sample(NEUTRAL, mean_pen(NEUTRAL)), samples_sample(NEUTRAL))
        self._legend_oracle = (band_sample(ORACLE_COLOUR, oracle_pen(2), BAND_ALPHA // 2),
                               pg.PlotDataItem(pen=oracle_pen(2)))
        self.legend = legend

    def redraw(self) -> None:
        """Adapt every learner to the current task and draw it."""
        self._redraw.stop()
        if self.sample is None or not self.learners:
            self.views, self.oracle = {}, None
            return
        samples = SAMPLE_COUNT if self.show_samples.isChecked() and self.show_samples.isEnabled() else 0
        self.views = {name: adapt_view(learner, self.sample, self.steps, None, samples)
                      for name, learner in self.learners.items()}
        self.oracle = oracle_view(self.sample) if self.show_oracle.isChecked() else None
        family = self.sample.family
        x_min, x_max = family.ranges["x"]
        y_top = family.y_bound() + 0.5
        if self.overlay.isChecked():
            self._draw_overlay()
            self._overlay_item.setRange(xRange=(x_min, x_max), yRange=(-y_top, y_top), padding=0)
        else:
            note_line = any(view.note for view in self.views.values())
            for name, pane in self._panes.items():
                pane.draw(self.views[name], self.sample, self.steps, self.oracle, note_line)
            self._pane_legend()
            if self._panes:
                first = next(iter(self._panes.values())).item
                first.setRange(xRange=(x_min, x_max), yRange=(-y_top, y_top), padding=0)

    def _draw_overlay(self) -> None:
        any_view = next(iter(self.views.values()))
        oracle = self.oracle
        self._overlay_truth.setData(any_view.x, any_view.truth)
        self._overlay_support.setData(self.sample.x_support, self.sample.y_support)
        self._overlay_oracle.draw(any_view.x, None if oracle is None else oracle.mean,
                                  None if oracle is None else oracle.std)
        for name, (pre, post) in self._overlay_curves.items():
            view = self.views[name]
            pre.setData(view.x, view.pre)
            post.setData(view.x, view.post)
            self._overlay_bands[name].draw(view.x, view.mean, view.std, view.samples)
        entries = [(self._overlay_truth, "ground truth", DEFINITIONS["ground truth"]),
                   (self._overlay_support, "used for grad", DEFINITIONS["used for grad"])]
        if oracle is not None:
            self._overlay_oracle.mean.opts["name"] = oracle_legend(oracle)  # the CSV export's column
            entries.append((self._overlay_oracle.mean, oracle_label(oracle), DEFINITIONS["oracle"]))
        entries += [(post, f"{name}: {mse_line(self.views[name], self.steps)}", DEFINITIONS["after"])
                    for name, (_, post) in self._overlay_curves.items()]
        set_legend(self._overlay_legend, entries)
        self._fit_legends()

    def _pane_legend(self) -> None:
        truth, pre, post, support = self._legend_samples
        entries = [(truth, "ground truth", DEFINITIONS["ground truth"]),
                   (pre, "pre-update", DEFINITIONS["pre-update"]),
                   (post, f"after {self.steps} {steps_word(self.steps)}", DEFINITIONS["after"]),
                   (support, "used for grad", DEFINITIONS["used for grad"])]
        band, samples = self._legend_band
        if any(view.mean is not None for view in self.views.values()):
            entries.append((band, "predictive mean \u00b1 2 std", DEFINITIONS["band"]))
        if any(view.samples is not None for view in self.views.values()):
            entries.append((samples, "function samples", DEFINITIONS["samples"]))
        if self.oracle is not None:
            sample = self._legend_oracle[0 if self.oracle.std is not None else 1]
            entries.append((sample, oracle_label(self.oracle), DEFINITIONS["oracle"]))
        set_legend(self.legend, entries)
        self._fit_legends()
