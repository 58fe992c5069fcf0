"""``train``'s progress line on a terminal."""

from __future__ import annotations

import time
from typing import TextIO

from .jobs.training import Snapshot


class ProgressBar:
    """One self-rewriting line: iteration, it/s, loss, ETA; at most ~10 redraws a second."""

    def __init__(self, stream: TextIO, width: int = 24) -> None:
        self.stream = stream
        self.width = width
        self.last_draw = 0.0
        self.started = time.perf_counter()
        self.first_iteration: int | None = None

    def update(self, snapshot: Snapshot, force: bool = False) -> None:
        now = time.perf_counter()
        if self.first_iteration is None:
            self.first_iteration = snapshot.iteration - 1
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        rate = (snapshot.iteration - self.first_iteration) / max(now - self.started, 1e-9)
        left = snapshot.budget - snapshot.iteration
        filled = int(self.width * snapshot.iteration / max(snapshot.budget, 1))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\r[{bar}] {snapshot.iteration}/{snapshot.budget}  {rate:6.0f} it/s  "
            f"loss {snapshot.loss:8.4f}  ETA {left / max(rate, 1e-9):5.0f}s "
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
