"""The evaluation view: same numbers as the CLI, cancel, probes, exports, errors, reproduce."""

from __future__ import annotations

import csv
import json
import multiprocessing
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from metaviz.checkpoint import load_learner
from metaviz.jobs import TrainControl, drain
from metaviz.jobs.evaluation import evaluate
from metaviz.jobs.training import Trainer, training_job
from metaviz.learners import default_config, make_learner
from metaviz.report import CSV_COLUMNS
from metaviz.ui.evaluation_view import EvaluationView

from .conftest import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = {"table.md", "results.json", "figure.png", "figure.svg"}


def trained(kind: str = "maml", iterations: int = 30):
    config = default_config(kind, iterations=iterations, meta_batch=5, eval_every=1000)
    trainer = Trainer(make_learner(config))
    drain(training_job(trainer, TrainControl(config.inner_lr, config.meta_lr), with_params=False))
    assert trainer.learner.iteration == iterations
    return trainer.learner


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "maml.pt"
    subprocess.run([sys.executable, "main.py", "train", "--iterations", "30", "--meta-batch", "5",
                    "--out", str(path), "--quiet"], cwd=ROOT, check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def results():
    """Two learners on a tiny protocol (K = 5, 10; 30 tasks; 4 steps), named as the view names them."""
    import dataclasses

    return [dataclasses.replace(evaluate(trained(kind), shots=(5, 10), steps=4, num_tasks=30), learner=name)
            for kind, name in (("maml", "maml-a"), ("multitask", "multi-b"))]


@pytest.fixture
def view(qtbot, monkeypatch):
    boxes: list[str] = []
    monkeypatch.setattr(EvaluationView, "show_box", lambda self, text: boxes.append(text))
    widget = EvaluationView()
    widget.boxes = boxes
    qtbot.addWidget(widget)
    yield widget
    widget.close()
    assert not widget.runner.running, "the worker thread must be joined when the view closes"


def protocol(view, tasks, steps, shots=(5, 10, 20), seed=None):
    view.form.tasks.setValue(tasks)
    view.form.steps.setValue(steps)
    for k, box in view.form.shot_boxes.items():
        box.setChecked(k in shots)
    if seed is not None:
        view.form.seed.setValue(seed)


def start_and_wait_for_progress(qtbot, view):
    """Start the view's evaluation and wait until its first unit is reported."""
    assert view.run()
    assert view.runner.running and view.cancel_button.isEnabled() and not view.run_button.isEnabled()
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=TIMEOUT)


def run(qtbot, view, timeout=60_000, with_oracle=False):
    """The results of one run; the oracle's row (sinusoids have one) only if asked."""
    with qtbot.waitSignal(view.results_changed, timeout=timeout) as blocker:
        assert view.run()
    assert not view.runner.running
    return [r for r in blocker.args[0] if with_oracle or r.learner != "oracle"]


def test_the_best_possible_answer_is_a_row_beside_the_learners(qtbot, view, checkpoint):
    view.set_learners({"mine": load_learner(checkpoint)})
    protocol(view, 20, 2)
    results = run(qtbot, view, with_oracle=True)
    assert [r.learner for r in results] == ["mine", "oracle"]
    oracle = results[1]
    # Least squares in span{sin x, cos x} recovers a noise-free sinusoid from K >= 2 points.
    assert all(m < 1e-10 for curve in oracle.curves.values() for m in curve.mean)
    assert oracle.num_tasks == results[0].num_tasks == 20 and oracle.seed == results[0].seed


def test_numbers_equal_the_cli(qtbot, view, checkpoint, tmp_path):
    out = tmp_path / "out.json"
    subprocess.run([sys.executable, "main.py", "evaluate", str(checkpoint), "--tasks", "25", "--steps", "4",
                    "--seed", "7", "--json", str(out)], cwd=ROOT, check=True, capture_output=True)
    expected = json.loads(out.read_text())
    view.set_learners({"from checkpoint": load_learner(checkpoint)})
    protocol(view, 25, 4, seed=7)
    [result] = run(qtbot, view)
    assert result.learner == "from checkpoint" and result.num_tasks == 25 and result.seed == 7
    assert set(expected["curves"]) == {str(k) for k in result.curves} == {"5", "10", "20"}
    for k, curve in result.curves.items():
        for field in ("mean", "ci95", "median", "diverged"):
            assert getattr(curve, field) == expected["curves"][str(k)][field], (k, field)
    # The table shows these numbers: row K=5, column "step 1".
    assert view.table.item(0, 0).text() == "from checkpoint" and view.table.item(0, 1).text() == "5"
    assert view.table.item(0, 3).text().startswith(f"{expected['curves']['5']['mean'][1]:.4f} \u00b1")


def test_runs_to_completion_and_cancels_midway(qtbot, view, tmp_path):
    learners = {"a": trained(), "b": trained("pretrained")}
    view.set_learners(learners)
    protocol(view, 20, 3)
    done = run(qtbot, view)
    # Two learners and the sinusoids' oracle: 3 x 3 K's, one chunk of 20 tasks each.
    assert [r.learner for r in done] == ["a", "b"] and view.progress.value() == view.progress.maximum() == 9
    assert "worker processes" not in view.log_view.toPlainText()  # too little work for processes to pay
    assert view.figure.curves.keys() == {(n, k) for n in ("a", "b", "oracle") for k in (5, 10, 20)}
    view.set_results([])
    protocol(view, 50_000, 10)  # long enough to be cancelled after its first unit
    start_and_wait_for_progress(qtbot, view)
    assert not view.run() and "already running" in view.boxes[-1]  # one run at a time
    view.cancel()
    qtbot.waitUntil(lambda: not view.runner.running, timeout=TIMEOUT)
    assert view.progress.value() < view.progress.maximum()
    assert view.results == [] and view.table.rowCount() == 0 and view.figure.curves == {}
    assert view.status.text().startswith("cancelled") and view.run_button.isEnabled()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def in_processes(monkeypatch):
    """The view evaluates in two worker processes whatever the amount of work."""
    from metaviz.ui import evaluation_view

    monkeypatch.setattr(evaluation_view, "evaluation_workers", lambda learners, **protocol: 2)


def test_several_learners_in_worker_processes_give_the_numbers_of_here(qtbot, view, in_processes):
    learners = {"a": trained(), "b": trained("multitask")}
    view.set_learners(learners)
    protocol(view, 20, 3, seed=5)
    done = run(qtbot, view, with_oracle=True)
    assert "3 jobs in 2 worker processes" in view.log_view.toPlainText()
    assert [r.learner for r in done] == ["a", "b", "oracle"] and view.progress.value() == 9
    for result, (name, learner) in zip(done, learners.items()):
        assert result.curves == evaluate(learner, steps=3, num_tasks=20, seed=5, name=name).curves, name
    assert view.table.item(0, 0).text() == "a" and multiprocessing.active_children() == []


def test_cancel_and_close_end_the_worker_processes(qtbot, view, in_processes):
    view.set_learners({"a": trained(), "b": trained("multitask")})
    protocol(view, 50_000, 10)
    start_and_wait_for_progress(qtbot, view)  # a unit done: the workers are evaluating
    assert len(multiprocessing.active_children()) == 2
    view.cancel()
    qtbot.waitUntil(lambda: not view.runner.running, timeout=TIMEOUT)
    assert multiprocessing.active_children() == [] and view.status.text().startswith("cancelled")
    assert view.results == [] and view.run_button.isEnabled()
    start_and_wait_for_progress(qtbot, view)
    view.close()  # joins the job thread, whose job ends the workers
    assert not view.runner.running and multiprocessing.active_children() == []


def test_out_of_distribution_probe_changes_numbers_and_is_recorded(qtbot, view):
    view.set_learners({"maml": trained()})
    protocol(view, 20, 2, shots=(5,))
    [plain] = run(qtbot, view)
    assert plain.task["family"] == "sinusoid" and plain.task["ranges"]["amp"] == [0.1, 5.0]
    view.form.range_boxes["amp_min"].setValue(5.0)
    view.form.range_boxes["amp_max"].setValue(10.0)
    [probe] = run(qtbot, view)
    assert probe.task["ranges"]["amp"] == [5.0, 10.0] and probe.task["ranges"]["x"] == plain.task["ranges"]["x"]
    assert probe.curves[5].mean[0] > 4 * plain.curves[5].mean[0]  # amplitudes twice as large on average
    view.form.reset_ranges()
    assert view.form.range_boxes["amp_max"].value() == 5.0
    view.form.use_lr.setChecked(True)  # a test-time rate of one's own: same start, other first step
    view.form.lr.setValue(0.05)
    [fast] = run(qtbot, view)
    assert fast.lr == 0.05 and fast.task == plain.task
    assert fast.curves[5].mean[0] == plain.curves[5].mean[0] and fast.curves[5].mean[1] != plain.curves[5].mean[1]


def test_invalid_ranges_give_a_clear_message(qtbot, view):
    view.set_learners({"maml": trained()})
    view.form.range_boxes["x_min"].setValue(3.0)
    view.form.range_boxes["x_max"].setValue(-3.0)
    with qtbot.waitSignal(view.error_message) as blocker:
        assert not view.run()
    assert "x range is empty or reversed" in blocker.args[0] and view.boxes == [blocker.args[0]]
    assert not view.runner.running


def test_table_has_our_rows_then_the_published_ones(view, results):
    view.set_results(results)
    cells = [[view.table.item(r, c).text() for c in range(view.table.columnCount())]
             for r in range(view.table.rowCount())]
    header = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    # steps 0, 1, 5, 10 capped at the last (4); then NLL and coverage when a learner has a predictive distribution
    assert header[:5] == ["method", "K", "step 0", "step 1", "step 4"]
    assert [row[:2] for row in cells[:4]] == [["maml-a", "5"], ["maml-a", "10"], ["multi-b", "5"], ["multi-b", "10"]]
    assert cells[0][4].startswith(f"{results[0].curves[5].mean[4]:.4f} \u00b1")
    assert ["MAML (published)", "5", "", "0.67", ""] in [row[:5] for row in cells]
    assert ["MAML (published)", "10", "", "0.435 \u00b1 0.039", ""] in [row[:5] for row in cells]
    assert not any(row[0] == "pretrained, fine-tuned (published)" and row[1] == "10" for row in cells)


def test_closing_while_running_joins_the_thread(qtbot, view):
    view.set_learners({"maml": trained()})
    protocol(view, 50_000, 10)
    start_and_wait_for_progress(qtbot, view)
    thread = view.runner._thread
    assert thread.isRunning()
    view.close()  # the fixture asserts the thread is joined; nothing is shown afterwards
    assert not view.runner.running and not thread.isRunning()
    assert view.results == [] and view.run_button.isEnabled()


def test_exports(view, results, tmp_path):
    view.set_results(results)
    assert view.export_png(tmp_path / "fig.png", width=900)
    image = QImage(str(tmp_path / "fig.png"))
    assert not image.isNull() and image.width() == 900
    assert view.export_svg(tmp_path / "fig.svg")
    root = ET.parse(tmp_path / "fig.svg").getroot()
    assert count_curve_paths(root) == {"#0072b2": 2, "#d55e00": 2}  # one per learner per K panel

    assert view.export_csv(tmp_path / "curves.csv")
    with open(tmp_path / "curves.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0])[:len(CSV_COLUMNS)] == CSV_COLUMNS and len(rows) == 2 * 2 * 5
    for row in rows:
        curve = next(r for r in results if r.learner == row["learner"]).curves[int(row["K"])]
        step = int(row["step"])
        assert float(row["mean"]) == curve.mean[step] and float(row["ci95"]) == curve.ci95[step]
        assert float(row["median"]) == curve.median[step] and int(row["diverged"]) == curve.diverged[step]

    assert view.export_markdown(tmp_path / "table.md")
    text = (tmp_path / "table.md").read_text()
    assert "30 held-out sinusoid tasks" in text and "| K=5, 1 step | K=5, 4 steps |" in text
    assert "| MAML | Finn et al. 2017" in text and "| 0.67 |" in text and "| predict zero |" in text
    assert f"| maml-a | metaviz, 30 it. | {results[0].curves[5].mean[1]:.4f}" in text
    assert view.boxes == []


def count_curve_paths(root) -> dict[str, int]:
    """<path> elements drawn with a learner's 2.5 px opaque pen, by colour."""
    counts: dict[str, int] = {}

    def walk(node, style):
        style = {**style, **{k: v for k, v in node.attrib.items() if k.startswith("stroke")}}
        if node.tag.endswith("path") and style.get("stroke-width") == "2.5" and style.get("stroke-opacity") == "1":
            counts[style["stroke"]] = counts.get(style["stroke"], 0) + 1
        for child in node:
            walk(child, style)

    walk(root, {})
    return counts


@pytest.mark.parametrize("export", ["export_png", "export_svg", "export_csv", "export_markdown"])
def test_unwritable_export_path_gives_the_message_and_writes_nothing(view, results, tmp_path, export):
    view.set_results(results)
    missing = tmp_path / "missing" / "out.file"
    assert not getattr(view, export)(missing)
    assert not missing.parent.exists()
    folder = tmp_path / "a folder"
    folder.mkdir()
    assert not getattr(view, export)(folder)
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a folder"]
    assert len(view.boxes) == 2
    assert "does not exist" in view.boxes[0] and "it is a folder" in view.boxes[1]


def test_export_before_any_result_is_refused(view, tmp_path):
    assert not view.export_csv(tmp_path / "c.csv")
    assert "run an evaluation first" in view.boxes[0] and not (tmp_path / "c.csv").exists()


def test_reproduce_loads_results_and_writes_what_the_cli_writes(qtbot, view, tmp_path):
    protocol(view, 10, 10)
    with qtbot.waitSignal(view.reproduced, timeout=120_000) as blocker:
        assert view.reproduce(tmp_path / "run", iterations=5)
    runs = blocker.args[0]
    assert [run.learner for run in runs] == ["maml", "pretrained", "multitask"]
    assert all(run.checkpoint.is_file() for run in runs)
    # Named as the session lists them (one name per learner in every view).
    assert [r.learner for r in view.results] == ["MAML (paper run)", "pretrained (paper run)",
                                                 "multi-task (paper run)"]
    assert view.results[0].curves[5].mean == runs[0].result.curves[5].mean
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert OUTPUTS | {"maml.pt", "pretrained.pt", "multitask.pt", "curves.csv"} <= names
    log = view.log_view.toPlainText()
    assert f"wrote {tmp_path / 'run' / 'maml.pt'}" in log and "figure:" in log


def test_cancelled_reproduction_writes_no_table_or_figure(qtbot, view, tmp_path):
    assert view.reproduce(tmp_path, iterations=1_000_000)
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=TIMEOUT)  # training has begun
    view.cancel()
    qtbot.waitUntil(lambda: not view.runner.running, timeout=TIMEOUT)
    assert view.results == [] and view.status.text().startswith("cancelled") and view.run_button.isEnabled()
    assert not OUTPUTS & {p.name for p in tmp_path.iterdir()}


def test_export_buttons_wait_for_results(view, results):
    assert view.export_buttons and not any(b.isEnabled() for b in view.export_buttons)
    view.set_results(results)
    assert all(b.isEnabled() for b in view.export_buttons)
    view.set_results([])
    assert not any(b.isEnabled() for b in view.export_buttons)


def test_long_runs_show_percentage_and_time_left(qtbot, view, monkeypatch):
    """A fake clock and a job that holds after its first report: 25% done after 10 s
    means about 30 s left (no wall clock is read)."""
    import threading

    from metaviz.jobs import Progress, Result
    from metaviz.ui import evaluation_view

    now = {"t": 0.0}
    view.clock = lambda: now["t"]
    release = threading.Event()

    def held_job(specs, workers):
        now["t"] = 10.0
        yield Progress(25, 100, "evaluating")
        release.wait(TIMEOUT / 1000)
        now["t"] = 40.0
        yield Result([])

    monkeypatch.setattr(evaluation_view, "runs_job", held_job)
    view.set_learners({"maml": trained(iterations=1)})
    assert view.run()
    qtbot.waitUntil(lambda: "25% done" in view.status.text(), timeout=TIMEOUT)
    assert "about 0:30 left" in view.status.text() and view.progress.text() == "25%"
    release.set()
    qtbot.waitUntil(lambda: not view.runner.running, timeout=TIMEOUT)
    assert view.status.text() == "done in 40.0s"


def test_reproduce_uses_the_protocols_600_tasks_and_says_so(qtbot, view, monkeypatch, tmp_path):
    from metaviz.ui import evaluation_reproduce, evaluation_view

    seen = {}

    def recording_job(out_dir, **options):
        seen.update(options)
        raise ValueError("stopped by the test")
        yield  # a generator, like the real job

    monkeypatch.setattr(evaluation_reproduce, "reproduce_job", recording_job)
    view.form.tasks.setValue(100)  # the Evaluate tab's own count is not the protocol's
    assert view.reproduce(tmp_path)
    assert "600 tasks per K" in view.status.text()
    qtbot.waitUntil(lambda: not view.runner.running, timeout=TIMEOUT)
    assert seen["num_tasks"] == 600 and view.boxes == ["stopped by the test"]
    [button] = [b for b in view.findChildren(evaluation_view.QPushButton) if b.text().startswith("Reproduce")]
    assert "600 tasks" in button.toolTip()
