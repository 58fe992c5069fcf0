"""The headless SVG figure: well-formed, one band and line per learner per panel, a true
log10 axis, gaps for non-finite means, published markers only for sinusoids, escaped
text, and no Qt anywhere near it."""

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from metaviz.learners import learner_spec
from metaviz.protocol import Curve, EvaluationResult
from metaviz.published import PUBLISHED
from metaviz.report import protocol_text
from metaviz.svg_figure import OKABE_ITO, PLOT_HEIGHT, PLOT_WIDTH, save_svg_figure

ROOT = Path(__file__).resolve().parents[2]
NS = "{http://www.w3.org/2000/svg}"


def curve(shots, mean, ci=None):
    ci = [0.1 * m if math.isfinite(m) else math.nan for m in mean] if ci is None else ci
    return Curve(shots=shots, mean=list(mean), ci95=list(ci), median=list(mean), diverged=[0] * len(mean),
                 num_tasks=100)


def result(learner, curves, family="sinusoid", steps=None):
    steps = len(next(iter(curves.values())).mean) - 1 if steps is None else steps
    return EvaluationResult(learner=learner, iteration=1000, steps=steps, num_tasks=100, num_query=100, seed=7,
                            lr=None, task={"family": family}, curves=curves)


def decaying(shots, start=3.0, end=0.2, steps=10):
    return curve(shots, [end + (start - end) * math.exp(-0.5 * s) for s in range(steps + 1)])


def draw(tmp_path, results):
    (path,) = save_svg_figure(results, tmp_path / "figure")
    assert path == tmp_path / "figure.svg" and path.is_file()
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == f"{NS}svg"
    return root, path.read_text(encoding="utf-8")


def panels(root):
    return {int(g.get("data-shots")): g for g in root.iter(f"{NS}g") if g.get("class") == "panel"}


def of_class(parent, tag, cls, learner=None):
    return [e for e in parent.iter(None if tag == "*" else f"{NS}{tag}") if e.get("class") == cls
            and (learner is None or e.get("data-learner") == learner)]


def points(element):
    return [tuple(map(float, p.split(","))) for p in element.get("points").split()]


def marker_y(element):
    """The centre's y of a circle, square or polygon marker."""
    if element.get("points"):
        ys = [py for _, py in points(element)]
        return (min(ys) + max(ys)) / 2
    if element.get("cy"):
        return float(element.get("cy"))
    return float(element.get("y")) + float(element.get("height")) / 2


def frame(panel):
    (rect,) = [r for r in panel.iter(f"{NS}rect") if r.get("fill") == "none"]
    return float(rect.get("x")), float(rect.get("y")), float(rect.get("width")), float(rect.get("height"))


def test_one_panel_per_k_with_one_band_and_one_line_per_learner(tmp_path):
    # K keys deliberately unsorted and not identical across learners: panels are the sorted union.
    results = [result("maml", {20: decaying(20), 5: decaying(5)}),
               result("my-plugin", {10: decaying(10, end=0.5), 5: decaying(5, end=0.5)})]
    root, text = draw(tmp_path, results)
    found = panels(root)
    assert list(found) == [5, 10, 20]
    assert [g.get("data-shots") for g in root.iter(f"{NS}g") if g.get("class") == "panel"] == ["5", "10", "20"]
    for k, panel in found.items():
        for r in results:
            expected = 1 if k in r.curves else 0
            assert len(of_class(panel, "polygon", "band", r.learner)) == expected
            assert len(of_class(panel, "polyline", "curve", r.learner)) == expected
        assert any(t.text == f"K = {k} shots" for t in panel.iter(f"{NS}text"))
    (line,) = of_class(found[5], "polyline", "curve", "maml")
    assert line.get("stroke") == learner_spec("maml").colour
    (other,) = of_class(found[5], "polyline", "curve", "my-plugin")
    assert other.get("stroke") in OKABE_ITO and other.get("stroke").lower() != learner_spec("maml").colour.lower()
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert protocol_text(results) in texts
    assert "gradient steps" in texts and "query MSE" in texts
    assert learner_spec("maml").label in texts and "my-plugin" in texts  # legend labels
    assert "nan" not in text and "inf" not in text


def test_log_axis_order_and_exact_decades(tmp_path):
    # ci 0 and no published markers (other family): the limits are exactly 0.01 .. 10, three decades.
    mean = [10.0, 5.0, 1.0, 0.5, 0.1, 0.01]
    root, _ = draw(tmp_path, [result("maml", {5: curve(5, mean, [0.0] * 6)}, family="other")])
    panel = panels(root)[5]
    (line,) = of_class(panel, "polyline", "curve")
    xs, ys = zip(*points(line))
    assert all(a < b for a, b in zip(ys, ys[1:]))  # smaller MSE is drawn lower: larger SVG y
    decade = PLOT_HEIGHT / 3
    assert ys[2] - ys[0] == pytest.approx(decade, abs=0.02)  # 10 vs 1
    assert ys[3] - ys[1] == pytest.approx(decade, abs=0.02)  # 5 vs 0.5: any factor of ten, not only ticks
    assert ys[5] - ys[4] == pytest.approx(decade, abs=0.02)  # 0.1 vs 0.01
    assert ys[3] - ys[2] == pytest.approx(decade * math.log10(2), abs=0.02)
    x, y, width, height = frame(panel)
    assert (ys[0], ys[-1]) == (pytest.approx(y, abs=0.02), pytest.approx(y + height, abs=0.02))
    assert (xs[0], xs[-1]) == (pytest.approx(x, abs=0.02), pytest.approx(x + PLOT_WIDTH, abs=0.02))
    assert width == PLOT_WIDTH
    assert all(b - a == pytest.approx(PLOT_WIDTH / 5, abs=0.02) for a, b in zip(xs, xs[1:]))
    ticks = {t.text: float(t.get("y")) for t in panel.iter(f"{NS}text") if t.get("class") == "ytick"}
    assert list(ticks) == ["0.01", "0.1", "1", "10"]
    assert ticks["0.1"] - ticks["1"] == pytest.approx(decade, abs=0.02)
    assert ticks["1"] - ticks["10"] == pytest.approx(ys[2] - ys[0], abs=0.02)  # labels sit where their values are


def test_non_finite_mean_is_a_gap_and_band_edges_stay_finite(tmp_path):
    mean = [2.0, 1.0, math.nan, 0.5, 0.25, math.inf, 0.2]
    ci = [3.0, 0.1, math.nan, 0.05, 0.02, math.nan, 0.02]  # the first band reaches below zero: clipped
    root, text = draw(tmp_path, [result("maml", {5: curve(5, mean, ci)})])
    panel = panels(root)[5]
    lines = of_class(panel, "polyline", "curve")
    assert [len(points(p)) for p in lines] == [2, 2, 1]
    assert len(of_class(panel, "polygon", "band")) == 3
    assert [c for c in panel.iter(f"{NS}circle") if c.get("data-learner") == "maml"]  # the lone last point shows
    x, y, _, height = frame(panel)
    for band in of_class(panel, "polygon", "band"):
        assert all(y - 0.01 <= py <= y + height + 0.01 for _, py in points(band))
    assert "nan" not in text and "inf" not in text


@pytest.mark.parametrize("level", [0.02, 50.0])  # learners far below, then far above, the published values
def test_published_markers_only_for_sinusoids_and_inside_the_axis(tmp_path, level):
    steps = 10
    low = [curve(k, [level * (1 + 0.01 * s) for s in range(steps + 1)]) for k in (5, 10)]
    root, _ = draw(tmp_path, [result("maml", {c.shots: c for c in low})])
    for k, panel in panels(root).items():
        markers = of_class(panel, "*", "published")
        expected = sum(1 for row in PUBLISHED for (kk, s) in row.mse if kk == k and s <= steps)
        assert expected > 0 and len(markers) == expected
        _, y, _, height = frame(panel)
        for m in markers:
            assert y <= marker_y(m) <= y + height  # the y limits widen to the published values
    assert of_class(root, "*", "legend-marker")

    for family_results in ([result("maml", {5: low[0]}, family="step")],
                           [result("maml", {5: low[0]}), result("fomaml", {5: low[0]}, family="step")]):
        (tmp_path / "other").mkdir(exist_ok=True)
        root, _ = draw(tmp_path / "other", family_results)
        assert not of_class(root, "*", "published") and not of_class(root, "*", "legend-marker")


@pytest.mark.parametrize("name", ["a<b&c", 'quote "q" \'s\' > \x01 end'])
def test_text_is_escaped(tmp_path, name):
    root, _ = draw(tmp_path, [result(name, {5: decaying(5)})])
    (line,) = of_class(root, "polyline", "curve")
    clean = name.replace("\x01", "")  # a control character has no place in XML 1.0: dropped
    assert line.get("data-learner") == clean
    assert clean in [t.text for t in root.iter(f"{NS}text")]


def test_legend_is_below_every_panel(tmp_path):
    results = [result(n, {k: decaying(k) for k in (5, 10, 20)}) for n in ("maml", "fomaml", "multitask")]
    root, _ = draw(tmp_path, results)
    bottom = max(frame(p)[1] + frame(p)[3] for p in panels(root).values())
    axis_titles = max(float(t.get("y")) for t in root.iter(f"{NS}text") if t.text == "gradient steps")
    (legend,) = [g for g in root.iter(f"{NS}g") if g.get("class") == "legend"]
    legend_ys = [float(t.get("y")) for t in legend.iter(f"{NS}text")]
    assert len(legend_ys) == 3 + len(PUBLISHED)
    assert min(legend_ys) > axis_titles > bottom
    assert max(legend_ys) < float(root.get("height"))


def test_rewrites_in_place_and_rejects_nothing_to_draw(tmp_path):
    draw(tmp_path, [result("maml", {5: decaying(5)})])
    _, text = draw(tmp_path, [result("fomaml", {5: decaying(5)})])
    assert 'data-learner="fomaml"' in text and 'data-learner="maml"' not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.svg"]  # no temporary left behind
    with pytest.raises(ValueError):
        save_svg_figure([], tmp_path / "empty")


def test_imports_no_qt():
    code = ("import metaviz.svg_figure, sys; "
            "print(any(m.startswith(('PySide6', 'pyqtgraph', 'shiboken6')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
