"""Readable on a laptop: the window keeps the size it is given (1366x768, 1280x720,
1024x700) whichever tab is shown, spin boxes keep their height, legends and MSE text sit
off the data, legends show only what is drawn, log-axis labels never overlap, compare's
panes are equal, published markers neither pile up nor clip, and a learner has one
name and one colour in every view."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter

from metaviz.jobs.training import ValidationPoint
from metaviz.learners import learner_spec
from metaviz.ui.controls import LabeledSlider
from metaviz.ui.figures import MARKER_SIZE, EvaluationFigure
from metaviz.ui.plot_parts import legend_labels
from tests.ui.test_figures import fake_result

from .conftest import TIMEOUT


def shown(qtbot, window, size):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(0)
    assert window.size().height() == size[1], f"the window would not shrink to {size}: {window.minimumSizeHint()}"


@pytest.mark.parametrize("size", [(1366, 768), (1280, 720), (1024, 700)])
def test_laptop_sizes_fit_and_no_tab_resizes_the_window(qtbot, window, size):
    shown(qtbot, window, size)
    before = window.size()
    assert before.height() == size[1] and window.minimumSizeHint().height() < size[1]
    assert window.minimumSizeHint().width() <= 1024
    for index in itertools.chain(range(window.tabs.count()), [0]):
        window.tabs.setCurrentIndex(index)
        qtbot.wait(0)  # let the layout settle
        assert window.size() == before, f"tab {window.tabs.tabText(index)} resized the window"
    # Every spin box at its natural height (not squashed); the side panel scrolls instead.
    spins = [w.spin for w in window.findChildren(LabeledSlider)]
    assert len(spins) >= 10 and all(s.height() >= s.sizeHint().height() for s in spins)
    side = window.centralWidget().widget(1)
    assert side.widget().height() >= side.widget().minimumSizeHint().height()
    if size == (1024, 700):
        assert side.verticalScrollBar().maximum() > 0


def disjoint(a: QRectF, b: QRectF) -> bool:
    return not a.intersects(b)


def test_legends_and_mse_text_sit_off_the_data(qtbot, window):
    shown(qtbot, window, (1280, 720))
    window.explore.draw_now()
    for plot in (window.explore.task_plot, window.explore.training_plot):
        box = plot.getPlotItem().getViewBox().sceneBoundingRect()
        assert plot.legend.items and disjoint(plot.legend.sceneBoundingRect(), box)
    task = window.explore.task_plot
    assert "MSE on this task: pre-update" in task.getPlotItem().titleLabel.text
    texts = [i for i in task.getPlotItem().getViewBox().allChildren() if isinstance(i, pg.TextItem)]
    assert texts == [task.hint]  # the only text on the canvas is the newcomer's hint


def test_the_legend_shows_what_is_drawn_no_crossed_out_icons(qtbot, window):
    plot, steps, panel = window.explore.task_plot, window.controls.adapt_steps, window.task_panel
    steps.spin.setValue(0)
    qtbot.waitUntil(lambda: window.explore.view.trajectory.shape[0] == 1, timeout=TIMEOUT)
    assert not any(label.startswith("after") for label in legend_labels(plot.legend))
    steps.spin.setValue(4)
    qtbot.waitUntil(lambda: "after 4 steps" in legend_labels(plot.legend), timeout=TIMEOUT)
    assert all(sample.item.isVisible() for sample, _ in plot.legend.items)  # none drawn crossed out
    panel.show_query.setChecked(False)
    qtbot.waitUntil(lambda: "query points" not in legend_labels(plot.legend), timeout=TIMEOUT)
    panel.show_query.setChecked(True)
    qtbot.waitUntil(lambda: "query points" in legend_labels(plot.legend), timeout=TIMEOUT)
    assert all(sample.item.isVisible() for sample, _ in plot.legend.items)
    tips = {label.text: label.toolTip() for _, label in plot.legend.items}
    assert "support points" in tips["used for grad"] and "before any adaptation" in tips["pre-update (0 steps)"]


def label_rects(axis):
    image = QImage(400, 400, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _, text in texts if text]


def test_log_axis_labels_never_overlap(qtbot, window):
    shown(qtbot, window, (1024, 700))
    plot = window.explore.training_plot
    # Losses between 0.55 and 5: the range where 1/0.9/0.8/0.7/0.6 used to overlap.
    values = np.geomspace(5, 0.55, 200)
    plot.append([(i + 1, float(v)) for i, v in enumerate(values)],
                [ValidationPoint(1, (4.0, 3.0)), ValidationPoint(200, (3.0, 0.6))])
    plot.refresh()
    plot.getPlotItem().getViewBox().autoRange()
    plot.getPlotItem().getViewBox().updateAutoRange()
    labels = label_rects(plot.getPlotItem().getAxis("left"))
    assert {text for _, text in labels} <= {"0.5", "1", "2", "5", "10"} and "1" in {t for _, t in labels}
    for (a, _), (b, _) in itertools.combinations(labels, 2):
        assert disjoint(a, b)


@pytest.mark.parametrize("size", [(1366, 768), (1024, 700)])
def test_compare_panes_are_equal_and_have_a_legend(qtbot, open_window, tiny, wait_state, size):
    window = open_window(tiny(iterations=5))
    for kind in ("maml", "pretrained", "multitask"):
        window.model.switch_learner(kind)
        window.model.set_budget(5)
        window.model.start()
        wait_state(window, "done")
    window.model.rename("multi-task", "multi-task with a rather long name")  # titles of unequal length
    shown(qtbot, window, size)
    compare = window.session.compare
    window.session.show_tab(compare)
    qtbot.waitUntil(lambda: len(compare.views) == 3, timeout=TIMEOUT)
    qtbot.wait(0)
    panes = list(compare._panes.values())
    widths = [p.item.getViewBox().sceneBoundingRect().width() for p in panes]
    assert max(widths) - min(widths) <= 2, widths
    labels = legend_labels(compare.legend)
    # The multi-task model has a predictive band; sinusoids have a best possible answer.
    assert labels[:5] == ["ground truth", "pre-update", "after 1 step", "used for grad", "predictive mean \u00b1 2 std"]
    assert labels[5].startswith("best possible from these points (MSE ") and len(labels) == 6
    bottom = max(p.item.sceneBoundingRect().bottom() for p in panes)
    assert compare.legend.sceneBoundingRect().top() >= bottom - 1  # below every pane
    width = compare.canvas.width()  # nothing pushed out of sight
    assert all(p.item.sceneBoundingRect().right() <= width for p in panes)
    assert compare.legend.sceneBoundingRect().right() <= width
    for name, pane in compare._panes.items():
        assert name in pane.item.titleLabel.text and "MSE pre" in pane.item.titleLabel.text
        assert pane.post.opts["pen"].color().name() == learner_spec(window.model.library.get(name).kind).colour.lower()


def test_published_markers_neither_pile_up_nor_clip(qtbot):
    figure = EvaluationFigure()
    qtbot.addWidget(figure)
    figure.resize(900, 460)  # the Evaluate tab of a 1280-pixel window
    figure.show()
    qtbot.waitExposed(figure)
    figure.set_results([fake_result("MAML", shots=(5, 10, 20))])
    qtbot.wait(0)
    for k, panel in figure.panels.items():
        box = panel.getViewBox()
        area = box.sceneBoundingRect()
        centres = []
        for item in panel.listDataItems():
            if item.opts["pen"] is not None:
                continue
            for x, y in zip(item.xData, item.yData):
                centres.append(box.mapViewToScene(QPointF(float(x), math.log10(float(y)))))
        assert centres, f"K={k}: no published markers"
        half = MARKER_SIZE / 2
        for c in centres:
            assert area.top() + half <= c.y() <= area.bottom() - half, f"K={k}: a marker is cut at the edge"
        for a, b in itertools.combinations(centres, 2):
            assert math.hypot(a.x() - b.x(), a.y() - b.y()) >= 0.6 * MARKER_SIZE, f"K={k}: markers pile up"


def test_a_narrow_evaluation_figure_shows_every_panel(qtbot):
    figure = EvaluationFigure()
    qtbot.addWidget(figure)
    figure.resize(640, 460)  # the Evaluate tab of a 1024-pixel window
    figure.show()
    qtbot.waitExposed(figure)
    figure.set_results([fake_result("MAML", shots=(5, 10, 20)), fake_result("pretrained", shots=(5, 10, 20))])
    qtbot.wait(0)
    assert figure.ci.width() <= 640
    assert all(panel.sceneBoundingRect().right() <= 640 for panel in figure.panels.values())
    assert figure.legend.sceneBoundingRect().right() <= 640


def test_one_name_and_one_colour_per_learner_in_every_view(qtbot, open_window, tiny, wait_state, tmp_path):
    window = open_window(tiny(iterations=5))
    window.model.start()
    wait_state(window, "done")
    assert window.files.save_checkpoint(tmp_path / "MAML copy.pt")
    window.model.switch_learner("pretrained")
    window.model.set_budget(5)
    window.model.start()
    wait_state(window, "done")
    assert window.files.load_checkpoint(tmp_path / "MAML copy.pt")  # a second MAML in the session
    colours = window.session.colours()
    assert colours["MAML"] == learner_spec("maml").colour.lower() and colours["pretrained"] == "#d55e00"
    assert colours["MAML copy"] not in (colours["MAML"], colours["pretrained"])  # a second MAML stands apart
    tree = window.session.panel.tree
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        swatch = item.icon(0).pixmap(12, 12).toImage().pixelColor(6, 6).name()
        assert swatch == colours[item.text(0)]
    window.session.show_tab(window.session.compare)
    compare = window.session.compare
    qtbot.waitUntil(lambda: set(compare.views) == set(colours), timeout=TIMEOUT)
    for name, pane in compare._panes.items():
        assert pane.post.opts["pen"].color().name() == colours[name]
    evaluation = window.session.evaluation
    window.session.show_tab(evaluation)
    evaluation.form.tasks.setValue(10)
    evaluation.form.steps.setValue(1)
    with qtbot.waitSignal(evaluation.results_changed, timeout=60_000):
        assert evaluation.run()
    from metaviz.ui.uncertainty import ORACLE_COLOUR

    colours["oracle"] = ORACLE_COLOUR  # the best possible answer: as Explore and Compare draw it
    assert {name for name, _ in evaluation.figure.curves} == set(colours)
    for (name, _), curve in evaluation.figure.curves.items():
        assert curve.opts["pen"].color().name() == colours[name]
