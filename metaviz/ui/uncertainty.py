"""A curve with its +-2 std band and a few function samples, as plot items created once.

Used for a learner's predictive distribution and for the best possible answer (the
oracle), in Explore and in every Compare pane. :meth:`BandItems.draw` only calls
``setData`` and ``setVisible``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ..adaptation import SAMPLE_COUNT

ORACLE_COLOUR = "#0f9fb0"  # cyan: apart from the learners' colours, visible over the black truth
BAND_ALPHA = 50
SAMPLE_ALPHA = 150


def _with_alpha(colour: str, alpha: int):
    c = pg.mkColor(colour)
    c.setAlpha(alpha)
    return c


class BandItems:
    """On ``item``: a ``mean`` curve, the band between mean - 2 std and mean + 2 std
    (``fill``, a FillBetweenItem between the ``lower`` and ``upper`` edges) and up to
    SAMPLE_COUNT ``samples`` curves, in ``colour``. ``legend_sample`` is an item for a legend
    entry that shows a line over a shaded patch (it is never added to a plot)."""

    def __init__(self, item: pg.PlotItem, colour: str, mean_pen, name: str, z: float = -5,
                 dashed_edges: bool = False) -> None:
        """``dashed_edges``: the band is mostly its dashed outline (the oracle's), so it reads
        apart from a learner's shaded band drawn over it."""
        fill = _with_alpha(colour, BAND_ALPHA // 2 if dashed_edges else BAND_ALPHA)
        # FillBetweenItem follows its edge curves' paths, which must be drawn: faint edges
        # of the band's colour, or dashed ones.
        edge = (pg.mkPen(_with_alpha(colour, 220), width=1.3, style=Qt.PenStyle.DashLine) if dashed_edges
                else pg.mkPen(_with_alpha(colour, 90), width=1))
        self.lower, self.upper = (item.plot(pen=edge) for _ in range(2))
        self.fill = pg.FillBetweenItem(self.lower, self.upper, brush=fill)
        item.addItem(self.fill)
        self.samples = [item.plot(pen=pg.mkPen(_with_alpha(colour, SAMPLE_ALPHA), width=1.2))
                        for _ in range(SAMPLE_COUNT)]
        self.mean = item.plot(pen=mean_pen, name=name)
        for curve in (self.lower, self.upper, self.fill, *self.samples):
            curve.setZValue(z)  # under the learners' fits and the points
        self.legend_sample = band_sample(colour, mean_pen, fill.alpha())
        self.sample_legend = samples_sample(colour)

    @property
    def band_shown(self) -> bool:
        return self.fill.isVisible()

    @property
    def samples_shown(self) -> int:
        return sum(curve.isVisible() for curve in self.samples)

    def draw(self, x: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None = None,
             samples: np.ndarray | None = None, show_mean: bool = True) -> None:
        """``mean``, ``std`` [N] (None: not drawn; no std: no band), ``samples`` [S, N]."""
        self.mean.setVisible(mean is not None and show_mean)
        if mean is not None:
            self.mean.setData(x, mean)
        banded = mean is not None and std is not None
        for part in (self.lower, self.upper, self.fill):
            part.setVisible(banded)
        if banded:
            self.lower.setData(x, mean - 2 * std)
            self.upper.setData(x, mean + 2 * std)
        count = 0 if samples is None else len(samples)
        for i, curve in enumerate(self.samples):
            curve.setVisible(i < count)
            if i < count:
                curve.setData(x, samples[i])

    def hide(self) -> None:
        self.draw(np.empty(0), None)


def band_sample(colour: str, mean_pen, alpha: int = BAND_ALPHA) -> pg.PlotDataItem:
    """A legend entry's item for a mean with its band: a line over a shaded patch (never plotted)."""
    return pg.PlotDataItem(pen=mean_pen, fillLevel=0, fillBrush=_with_alpha(colour, alpha))


def samples_sample(colour: str) -> pg.PlotDataItem:
    """A legend entry's item for function samples (never plotted)."""
    return pg.PlotDataItem(pen=pg.mkPen(_with_alpha(colour, SAMPLE_ALPHA), width=1.2))


def oracle_items(item: pg.PlotItem, width: float = 2.5, label: str = "best possible from these points") -> BandItems:
    """The best possible answer on ``item``: a dashed cyan curve, its band a dashed outline
    under every learner's curves."""
    items = BandItems(item, ORACLE_COLOUR, oracle_pen(width), label, z=-6, dashed_edges=True)
    items.mean.setZValue(2)  # over the truth it may equal, dashed so both show
    return items


def oracle_pen(width: float = 2.5):
    """Dash-dot: apart from the pre-update's dashes, and the truth shows through it."""
    return pg.mkPen(ORACLE_COLOUR, width=width, style=Qt.PenStyle.DashDotLine)
