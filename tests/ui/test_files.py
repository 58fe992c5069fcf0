"""Exports, settings files and checkpoints, and what happens when they fail."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import torch
from PySide6.QtGui import QImage

from metaviz.learners import make_learner
from metaviz.ui.export import _split_close
from metaviz.ui.settings import Preferences

from .conftest import TIMEOUT


def test_png_export_has_the_requested_size(window, tmp_path):
    window.resize(1200, 800)
    assert window.files.export_png(window.explore.task_plot, tmp_path / "task.png", width=640)
    image = QImage(str(tmp_path / "task.png"))
    assert not image.isNull() and image.width() == 640 and image.height() > 100


def test_svg_export_is_valid_and_holds_the_curves(qtbot, window, wait_state, tmp_path):
    window.model.start()
    wait_state(window, "done")
    for plot, points in ((window.explore.task_plot, 200), (window.explore.training_plot, 40)):
        path = tmp_path / "plot.svg"
        assert window.files.export_svg(plot, path)
        root = ET.parse(path).getroot()  # raises if not well-formed XML
        assert root.tag.endswith("svg")
        shapes = [e for e in root.iter() if e.tag.endswith(("polyline", "path"))]
        assert len(shapes) > 5
        assert any(len((e.get("points") or e.get("d") or "").split()) >= points for e in shapes)  # a whole curve


def test_closed_svg_paths_keep_their_close():
    assert _split_close("M1,2 L3,4 Z") == ("M1,2 L3,4", True)
    assert _split_close("M1,2 L3,4") == ("M1,2 L3,4", False)


def test_curves_csv_matches_the_plot(qtbot, window, tmp_path):
    window.controls.adapt_steps.spin.setValue(3)
    qtbot.waitUntil(lambda: window.explore.view.trajectory.shape[0] == 4, timeout=TIMEOUT)
    assert window.files.export_curves(tmp_path / "curves.csv")
    with open(tmp_path / "curves.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["x", "truth", "pre", "step_1", "step_2", "post"]
    table = np.array(rows[1:], dtype=float)
    x, pre = window.explore.task_plot.pre.getData()
    assert np.allclose(table[:, 0], x) and np.allclose(table[:, 2], pre)
    assert np.allclose(table[:, -1], window.explore.task_plot.post.getData()[1])
    assert np.allclose(table[:, 1], window.explore.task_plot.truth.getData()[1])


def test_history_csv(qtbot, window, wait_state, tmp_path):
    window.model.start()
    wait_state(window, "done")
    assert window.files.export_history(tmp_path / "history.csv")
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40 and rows[0]["iteration"] == "1"
    assert float(rows[9]["loss"]) == window.model.trainer.losses[9][1]
    assert float(rows[9]["val_mse_step_0"]) == window.model.trainer.validations[1].mse[0]


def test_unwritable_folder_shows_a_dialog(window, dialogs, tmp_path):
    missing = tmp_path / "no such folder" / "plot.png"
    assert not window.files.export_png(window.explore.task_plot, missing, width=300)
    assert not window.files.export_curves(missing.with_suffix(".csv"))
    assert len(dialogs.messages) == 2 and "no such folder" in dialogs.messages[1]


def test_settings_json_round_trip_and_bad_file(window, dialogs, tmp_path):
    path = tmp_path / "settings.json"
    window.controls.meta_lr.spin.setValue(0.004)
    assert window.files.save_settings(path)
    assert json.loads(path.read_text())["meta_lr"] == 0.004
    data = json.loads(path.read_text())
    data["shots"] = 7
    path.write_text(json.dumps(data))
    assert window.files.load_settings(path)
    assert window.model.config.shots == 7 and window.controls.shots.value() == 7
    assert window.model.history.current.shots == 7
    before = window.model.config
    (tmp_path / "bad.json").write_text('{"shots": -1}')
    assert not window.files.load_settings(tmp_path / "bad.json")
    assert "shots" in dialogs.messages[-1] and window.model.config is before


def test_checkpoint_reloads_to_the_same_curves(qtbot, open_window, wait_state, tmp_path):
    first = open_window()
    first.model.start()
    wait_state(first, "done")
    path = tmp_path / "run.pt"
    assert first.files.save_checkpoint(path)
    second = open_window()
    second.model.history = first.model.history  # the same task on both
    assert second.files.load_checkpoint(path)
    model = second.model
    assert second.state == "done" and model.trainer.learner.iteration == 40
    assert model.active.name == "run" and [e.name for e in model.library.trained()] == ["run"]
    assert model.losses == first.model.losses and len(model.losses) == 40
    assert np.allclose(model.adaptation_view().trajectory, first.model.adaptation_view().trajectory)
    assert not np.allclose(model.adaptation_view().trajectory,
                           model.adaptation_view(make_learner(model.config)).trajectory)  # not a fresh model
    qtbot.waitUntil(lambda: "40 / 40" in second.status.text.text(), timeout=TIMEOUT)


def test_bad_checkpoint_changes_nothing(window, dialogs, tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint")
    trainer = window.model.trainer
    assert not window.files.load_checkpoint(path)
    assert window.model.trainer is trainer and "checkpoint" in dialogs.messages[-1]


def test_settings_survive_a_second_window(open_window, prefs_path, tiny):
    first = open_window(tiny())
    first.controls.meta_lr.spin.setValue(0.005)
    first.resize(900, 500)
    first.close()
    second = open_window(None, prefs_path)
    assert second.model.config.meta_lr == 0.005 and second.controls.meta_lr.value() == 0.005
    assert second.model.config.iterations == 40
    assert Preferences(prefs_path).geometry() is not None
    assert second.height() == 500  # restored (the offscreen screen may clamp the width)


def test_model_change_asks_and_can_be_declined(qtbot, window, wait_state, dialogs):
    window.model.start()
    wait_state(window, "done")
    dialogs.answer = False
    window.controls.meta_batch.spin.setValue(7)
    assert dialogs.questions and window.model.config.meta_batch == 5
    assert window.controls.meta_batch.spin.value() == 5 and window.model.trainer.learner.iteration == 40
    dialogs.answer = True
    window.controls.meta_batch.spin.setValue(7)
    assert window.model.config.meta_batch == 7 and window.model.trainer.learner.iteration == 0


def test_switching_learners_keeps_each_trained_one(qtbot, window, wait_state, dialogs):
    window.model.start()
    wait_state(window, "done")
    trained = {name: t.clone() for name, t in window.model.trainer.learner.tensors.items()}
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("multitask"))
    assert not dialogs.questions  # nothing is discarded, so nothing to confirm
    assert window.model.config.learner == "multitask" and window.model.trainer.learner.iteration == 0
    names = [e.name for e in window.model.library.entries]
    assert names == ["MAML", "multi-task"]
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("maml"))
    assert window.model.config.learner == "maml" and window.model.trainer.learner.iteration == 40
    for name, tensor in window.model.trainer.learner.tensors.items():
        assert torch.equal(tensor, trained[name])
    # the untrained multi-task model is not kept once we move away from it
    assert [e.name for e in window.model.library.entries] == ["MAML"]
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("pretrained"))
    assert [e.name for e in window.model.library.entries] == ["MAML", "pretrained"]


def test_exported_images_carry_a_caption(qtbot, window, wait_state, tmp_path):
    from metaviz.ui.export import export_png as bare_png

    window.model.start()
    wait_state(window, "done")
    plot = window.explore.task_plot
    bare_png(plot, tmp_path / "bare.png", 640)
    assert window.files.export_png(plot, tmp_path / "task.png", width=640)
    bare, captioned = QImage(str(tmp_path / "bare.png")), QImage(str(tmp_path / "task.png"))
    assert captioned.width() == 640 and captioned.height() >= bare.height() + 20
    strip = [captioned.pixelColor(x, y).lightness() for y in range(bare.height(), captioned.height())
             for x in range(0, 640, 2)]
    assert min(strip) < 100  # dark caption text below the plot
    caption = window.model.caption()
    assert caption.startswith("MAML, 40 meta-iterations; K=10") and "seed 0" in caption
    assert window.files.export_svg(window.explore.training_plot, tmp_path / "curves.svg")
    root = ET.parse(tmp_path / "curves.svg").getroot()
    [group] = [g for g in root.iter() if g.get("class") == "caption"]
    text = " ".join(t.text for t in group.iter() if t.tag.endswith("text"))
    assert text == caption


def svg_points(d):
    return [tuple(map(float, pair.split(","))) for pair in re.findall(r"-?[\d.]+,-?[\d.]+", d)]


def test_svg_needs_no_clip_paths_and_overshooting_curves_are_cut(qtbot, tmp_path):
    """ImageMagick's renderer drops what pyqtgraph clips (only the grid was left): the SVG
    has no clip paths, and a curve leaving the view is cut at its edge, not drawn over the axes."""
    from metaviz.ui.export import export_svg
    from metaviz.ui.plots import TaskPlot

    plot = TaskPlot()
    qtbot.addWidget(plot)
    plot.resize(600, 450)
    plot.show()
    qtbot.waitExposed(plot)
    plot.set_ranges(-5.0, 5.0, 5.0)
    x = np.linspace(-5, 5, 200)
    plot.post.setData(x, 12 * np.sin(x))  # leaves the view (|y| <= 5.5) at both ends
    plot.truth.setData(x, np.sin(x))
    box = plot.getPlotItem().getViewBox().sceneBoundingRect()
    export_svg(plot, tmp_path / "plot.svg")
    text = (tmp_path / "plot.svg").read_text()
    assert "clip-path=" not in text
    red = [e for e in ET.fromstring(text).iter() if e.get("stroke", "").lower() == "#d62728"]
    points = [p for g in red for e in g.iter() if e.tag.endswith("path") for p in svg_points(e.get("d"))]
    assert len(points) > 50
    assert all(box.top() - 0.5 <= py <= box.bottom() + 0.5 for _, py in points)
    assert np.allclose(plot.post.getData()[1], 12 * np.sin(x))  # the plot itself is unchanged
    if shutil.which("rsvg-convert"):  # a renderer that is not Qt's draws the curves
        subprocess.run(["rsvg-convert", str(tmp_path / "plot.svg"), "-o", str(tmp_path / "r.png")], check=True)
        image = QImage(str(tmp_path / "r.png"))
        reds = sum(1 for px in range(0, image.width(), 2) for py in range(0, image.height(), 2)
                   if (c := image.pixelColor(px, py)).red() > 180 and c.green() < 90 and c.blue() < 90)
        assert reds > 50


def test_clip_polyline_cuts_at_the_bounds():
    from metaviz.ui.export import clip_polyline

    xs, ys = clip_polyline(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 4.0, 0.0, -4.0]), -2.0, 2.0)
    # 0 -> 4 crosses y=2 at x=0.5; 4 -> 0 crosses back at x=1.5; 0 -> -4 crosses y=-2 at x=2.5.
    assert list(xs) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert [y if np.isfinite(y) else None for y in ys] == [0.0, 2.0, None, 2.0, 0.0, -2.0, None]
    xs, ys = clip_polyline(np.array([0.0, 1.0]), np.array([4.0, -4.0]), -2.0, 2.0)  # through the band
    assert list(xs) == [0.0, 0.25, 0.75, 1.0] and list(ys[1:3]) == [2.0, -2.0]
