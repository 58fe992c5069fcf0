"""The status line: learner, iteration / budget, meta-it/s, elapsed, ETA, device, state."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from ..learners import learner_spec


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class RateMeter:
    """Meta-iterations per second of wall time, smoothed over ~1 s of reports."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._mark: tuple[float, int] | None = None
        self.rate = 0.0

    def update(self, iteration: int) -> float:
        now = self._clock()
        if self._mark is None:
            self._mark = (now, iteration)
            return self.rate
        then, start = self._mark
        if now - then >= 0.5:
            fresh = (iteration - start) / (now - then)
            self.rate = fresh if self.rate == 0 else 0.5 * self.rate + 0.5 * fresh
            self._mark = (now, iteration)
        return self.rate


class StatusLine(QWidget):
    """Labels and a progress bar for the window's status bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        # A long line must not set the window's minimum width: it is cut, the window is not grown.
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.state = QLabel()
        self.device = QLabel()
        self.device.setToolTip("Where the active learner trains (the window's --device: auto, cpu or cuda)")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.device)
        layout.addWidget(self.state)

    def show_status(self, learner: str, iteration: int, budget: int, rate: float, elapsed: float,
                    state: str) -> None:
        eta = f"ETA {_clock((budget - iteration) / rate)}" if rate > 0 and state == "training" else "ETA \u2013"
        self.text.setText(
            f"{learner_spec(learner).label}   iteration {iteration:,} / {budget:,}   "
            f"{rate:,.0f} meta-it/s   elapsed {_clock(elapsed)}   {eta}"
        )
        self.progress.setRange(0, max(budget, 1))
        self.progress.setValue(min(iteration, budget))
        self.state.setText(f"<b>{state}</b>")

    def show_device(self, label: str) -> None:
        """E.g. "cpu" or "cuda (NVIDIA H100 80GB HBM3)"."""
        self.device.setText(f"on {label}")
