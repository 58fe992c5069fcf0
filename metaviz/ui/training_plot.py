"""The training curves: meta-training loss and held-out MSE before/after adaptation.

Every plot item is created once; updates only call ``setData``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from .plot_parts import DEFINITIONS, cache_axes, legend_below, legend_columns, log_axis, set_columns, set_legend


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
        if "legend" in self.__dict__:  # before the resize lays the plot out (see set_columns)
            set_columns(self.legend, legend_columns(event.size().width(), len(self.legend.items), per_entry=180))
        super().resizeEvent(event)

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
