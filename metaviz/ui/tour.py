"""A short guided tour (Help menu): a few steps through the MAML paper's figure, each
pointing at the part of the window it talks about, ending at the lesson: held-out MSE
before adaptation stays near 3 while after adaptation it falls.

A non-modal dialog with Back / Next; the part of the window a step talks about gets a
red frame (an overlay that lets clicks through, so the user can try things meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


@dataclass(frozen=True)
class TourStep:
    """``target(window)`` is the widget to point at; ``text(window)`` may read live values."""

    title: str
    text: Callable[[object], str]
    target: Callable[[object], QWidget]
    show: Callable[[object], None] = lambda window: window.tabs.setCurrentWidget(window.explore)


def _lesson(window) -> str:
    points = window.model.validations
    text = ("The training curves. <b>Dashed blue: held-out MSE before adaptation.</b> For MAML it stays near 3 "
            "however long you train: the starting point is no good guess for any one task. "
            "<b>Red: after one gradient step</b> on K points, it falls. That gap is what MAML learns: "
            "a starting point that adapts fast, not one that predicts well.")
    if points:
        last = points[-1]
        text += (f"<br><br>Now, at iteration {last.iteration:,}: before adaptation <b>{last.mse[0]:.2f}</b>, "
                 f"after one step <b>{last.mse[1]:.2f}</b>.")
    else:
        text += "<br><br>Press Start (or Space in the window) to train, and watch the two curves part."
    return text


STEPS = (
    TourStep("1. One task, a few points",
             lambda w: "The black curve is one task: a sine wave with its own amplitude and phase. The learner "
                       "sees only the <b>triangles</b> (\u201cused for grad\u201d): K points of it. Its job: "
                       "fit the whole curve from those few points. Click the plot to add a point, right-click "
                       "to remove one.",
             lambda w: w.explore.task_plot),
    TourStep("2. Before and after adapting",
             lambda w: "<b>Dashed</b>: the prediction before adapting (\u201cpre-update\u201d), the same "
                       "meta-learned start for every task. <b>Solid red</b>: after k gradient steps on the "
                       "triangles (Adapt steps, at Adapt lr). The thin lines between are the steps in between. "
                       "This is the MAML paper's figure 2, live.",
             lambda w: w.explore.task_plot),
    TourStep("3. Meta-train",
             lambda w: "Press <b>Start</b> (or Space in the window) to meta-train: MAML moves its starting "
                       "point so that one step on K points lands close to any task of the family. Watch the "
                       "solid line snap onto the truth as training goes on. Step runs one meta-iteration at a time.",
             lambda w: w.run_buttons),
    TourStep("4. The lesson", _lesson, lambda w: w.explore.training_plot),
    TourStep("5. Against a baseline",
             lambda w: "Pick <b>pretrained</b> here and train it too: one network trained on all tasks at once "
                       "learns their average (about zero), and one step cannot move it to the task. Your MAML "
                       "run is kept. The <b>Compare</b> tab then shows every trained learner on the same task.",
             lambda w: w.controls.learner),
    TourStep("6. Score it like the paper",
             lambda w: "<b>Evaluate</b> runs the paper's protocol on your learners (600 held-out tasks, "
                       "K = 5, 10 and 20) and draws the figure beside the published numbers. "
                       "Learners \u25b8 Reproduce the paper trains and scores all three for you.",
             lambda w: w.tabs.tabBar()),
)


class Highlight(QFrame):
    """A red frame over a widget of ``window``; clicks go through it."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setStyleSheet("Highlight { border: 3px solid #d62728; border-radius: 4px; background: transparent; }")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def point_at(self, target: QWidget) -> None:
        window = self.parentWidget()
        corner = target.mapTo(window, QPoint(0, 0))
        self.setGeometry(corner.x() - 3, corner.y() - 3, target.width() + 6, target.height() + 6)
        self.show()
        self.raise_()


class GuidedTour(QDialog):
    """Steps of :data:`STEPS` over ``window`` (a MainWindow); ``index`` is the step shown."""

    def __init__(self, window, steps=STEPS) -> None:
        super().__init__(window)
        self.window_ = window
        self.steps = steps
        self.index = 0
        self.setWindowTitle("Guided tour")
        self.setModal(False)
        self.heading = QLabel()
        self.heading.setStyleSheet("font-weight: bold; font-size: 12pt;")
        self.body = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.body.setMinimumWidth(360)
        self.counter = QLabel()
        self.back = QPushButton("Back", clicked=lambda: self.go(self.index - 1))
        self.next = QPushButton("Next", clicked=self._next, default=True)
        close = QPushButton("Close", clicked=self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.counter)
        buttons.addStretch(1)
        for button in (self.back, self.next, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.body, 1)
        layout.addLayout(buttons)
        self.highlight = Highlight(window)
        self.go(0)

    @property
    def step(self) -> TourStep:
        return self.steps[self.index]

    def target(self) -> QWidget:
        return self.step.target(self.window_)

    def go(self, index: int) -> None:
        """Show step ``index`` (clamped) and point at its part of the window."""
        self.index = max(0, min(index, len(self.steps) - 1))
        step = self.step
        step.show(self.window_)
        self.heading.setText(step.title)
        self.body.setText(step.text(self.window_))
        self.counter.setText(f"{self.index + 1} of {len(self.steps)}")
        self.back.setEnabled(self.index > 0)
        self.next.setText("Done" if self.index == len(self.steps) - 1 else "Next")
        self.highlight.point_at(self.target())
        self._place()

    def _place(self) -> None:
        """Beside what the step points at, not over it: the other half of the window."""
        window, target = self.window_, self.target()
        centre = target.mapTo(window, target.rect().center()).x()
        self.adjustSize()
        x = window.width() - self.width() - 24 if centre < window.width() / 2 else 24
        y = max(window.height() - self.height() - 48, 0)
        self.move(window.mapToGlobal(QPoint(x, y)))

    def _next(self) -> None:
        if self.index == len(self.steps) - 1:
            self.close()
        else:
            self.go(self.index + 1)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.highlight.hide()
        super().closeEvent(event)
