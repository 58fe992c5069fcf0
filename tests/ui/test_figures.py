"""The evaluation figure: items, band clipping, and the CLI path with no QApplication."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from metaviz.learners import learner_spec
from metaviz.protocol import Curve, EvaluationResult
from metaviz.ui.figures import EvaluationFigure, band

ROOT = Path(__file__).resolve().parents[2]


def fake_result(name: str, shots=(5, 20), steps=10) -> EvaluationResult:
    mean = list(np.geomspace(3.0, 1e-4, steps + 1))
    curves = {k: Curve(k, mean, [m * 2 for m in mean], mean, [0] * (steps + 1), 40) for k in shots}
    return EvaluationResult(name, 100, steps, 40, 100, 1, None, {}, curves)


def test_band_is_positive_for_a_log_axis_and_gaps_at_non_finite():
    lower, upper = band(np.array([1.0, 0.5, np.inf]), np.array([0.2, 1.0, 1.0]), floor=0.01)
    assert lower[0] == 0.8 and upper[0] == 1.2
    assert lower[1] == 0.01 and upper[1] == 1.5  # mean - ci < 0 is clipped to the floor
    assert np.isnan(lower[2]) and np.isnan(upper[2])


def test_figure_has_a_panel_per_k_curves_bands_and_published_markers(qtbot):
    figure = EvaluationFigure()
    qtbot.addWidget(figure)
    figure.set_results([fake_result("one"), fake_result("two", shots=(5,))])
    assert sorted(figure.panels) == [5, 20]
    assert set(figure.curves) == {("one", 5), ("one", 20), ("two", 5)}
    panel = figure.panels[5]
    assert panel.ctrl.logYCheck.isChecked()  # log y axis
    items = panel.listDataItems()
    markers = [i for i in items if i.opts["pen"] is None]
    points = [(float(x), float(y)) for i in markers for x, y in zip(i.xData, i.yData)]

    def near(step, value):  # a published figure is drawn at its step, dodged sideways by < 0.5
        return any(abs(x - step) < 0.5 and y == value for x, y in points)

    assert near(1, 0.67) and near(10, 0.35) and near(1, 2.41)
    assert not {y for _, y in points if y in (0.67, 0.35, 2.41)} & {
        float(y) for i in figure.panels[20].listDataItems() if i.opts["pen"] is None
        for y in i.yData}, "K=5 figures must not appear in the K=20 panel"
    # Band edges: lower clipped above 0 (the smallest mean, 1e-4, has ci 2e-4).
    edges = [i for i in items if i not in markers and i is not figure.curves[("one", 5)]]
    assert min(np.nanmin(i.yData) for i in edges) > 0
    # y range covers 1e-4 (our best) and 4.25 (predict zero), in log10 units.
    low, high = panel.vb.viewRange()[1]
    assert low <= np.log10(1e-4 / 10) and high >= np.log10(4.25 * 1.0)


def test_cli_reproduce_writes_the_figure_without_a_window(tmp_path):
    """The CLI draws its figure without Qt: no display and no platform plugin needed."""
    out = tmp_path / "repro"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "main.py", "reproduce", "--out", str(out), "--iterations", "10",
                           "--tasks", "10"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"figure: {out / 'figure.svg'}" in done.stdout + done.stderr
    assert not (out / "figure.png").exists()
    root = ET.parse(out / "figure.svg").getroot()
    assert root.tag.endswith("svg")
    assert [g.get("data-shots") for g in root.iter() if g.get("class") == "panel"] == ["5", "10", "20"]
    strokes = [e.get("stroke").lower() for e in root.iter()
               if e.tag.endswith("polyline") and e.get("points") and e.get("stroke-width") == "2"]
    colours = {learner_spec(kind).colour.lower() for kind in ("maml", "pretrained", "multitask")}
    assert set(strokes) == colours  # three learners, each in its declared colour
    assert len(strokes) == 9  # x three K panels
