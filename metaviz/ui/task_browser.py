"""Tasks shown in the window: immutable samples and a history the user can walk.

Qt-free. Every edit (add/remove/clear points, resample, hand-made amplitude and
phase) returns a new :class:`TaskSample`; the history stores it in place of the
current entry, so walking back and forth shows each task as last edited.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..tasks import SinusoidFamily, make_generator

TASK_SEED_OFFSET = 7_919  # the window's task stream never equals the training stream


@dataclass(frozen=True, eq=False)
class TaskSample:
    """One task y = amplitude * sin(x - phase) with K support and Q query points.

    ``x_support``/``y_support``: [K]; ``x_query``/``y_query``: [Q] (float64 numpy).
    """

    amplitude: float
    phase: float
    x_support: np.ndarray
    y_support: np.ndarray
    x_query: np.ndarray
    y_query: np.ndarray

    @property
    def shots(self) -> int:
        return len(self.x_support)

    def truth(self, x: np.ndarray) -> np.ndarray:
        return self.amplitude * np.sin(np.asarray(x, dtype=np.float64) - self.phase)

    def with_point(self, x: float, y: float) -> TaskSample:
        return replace(self, x_support=np.append(self.x_support, x), y_support=np.append(self.y_support, y))

    def without_nearest(self, x: float, y: float, y_scale: float = 1.0) -> TaskSample:
        """Drop the support point closest to (x, y); ``y_scale`` converts y to x units
        so "closest" matches what the user sees on screen."""
        if self.shots == 0:
            return self
        distance = (self.x_support - x) ** 2 + ((self.y_support - y) * y_scale) ** 2
        keep = np.arange(self.shots) != int(np.argmin(distance))
        return replace(self, x_support=self.x_support[keep], y_support=self.y_support[keep])

    def cleared(self) -> TaskSample:
        return replace(self, x_support=np.empty(0), y_support=np.empty(0))

    def with_task(self, amplitude: float, phase: float) -> TaskSample:
        """The same inputs relabelled by a hand-made amplitude and phase (noise-free)."""
        moved = replace(self, amplitude=float(amplitude), phase=float(phase))
        return replace(moved, y_support=moved.truth(self.x_support), y_query=moved.truth(self.x_query))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.reshape(-1).numpy().astype(np.float64)


class TaskHistory:
    """Random tasks drawn from ``family`` with a seeded generator, and a cursor."""

    def __init__(self, family: SinusoidFamily, seed: int, query: int = 10) -> None:
        self.family = family
        self.query = query
        self._generator = make_generator(seed + TASK_SEED_OFFSET)
        self._entries: list[TaskSample] = []
        self._index = -1

    @property
    def current(self) -> TaskSample:
        return self._entries[self._index]

    @property
    def index(self) -> int:
        return self._index

    def __len__(self) -> int:
        return len(self._entries)

    def can_go_back(self) -> bool:
        return self._index > 0

    def can_go_forward(self) -> bool:
        return self._index < len(self._entries) - 1

    def new_random(self, shots: int) -> TaskSample:
        """Draw a task, append it and move to it."""
        amplitude, phase = self.family.sample_tasks(1, self._generator)
        self._entries.append(self._points(float(amplitude), float(phase), shots))
        self._index = len(self._entries) - 1
        return self.current

    def resample(self, shots: int) -> TaskSample:
        """New support and query points for the current task."""
        return self.replace(self._points(self.current.amplitude, self.current.phase, shots))

    def previous(self) -> TaskSample:
        self._index = max(self._index - 1, 0)
        return self.current

    def next(self) -> TaskSample:
        self._index = min(self._index + 1, len(self._entries) - 1)
        return self.current

    def replace(self, sample: TaskSample) -> TaskSample:
        self._entries[self._index] = sample
        return sample

    def _points(self, amplitude: float, phase: float, shots: int) -> TaskSample:
        a, p = torch.tensor([amplitude]), torch.tensor([phase])
        x_support = self.family.sample_x(1, shots, self._generator)
        x_query = self.family.sample_x(1, self.query, self._generator)
        return TaskSample(
            amplitude=amplitude,
            phase=phase,
            x_support=_numpy(x_support),
            y_support=_numpy(self.family.observe(a, p, x_support, self._generator)),
            x_query=_numpy(x_query),
            y_query=_numpy(self.family.observe(a, p, x_query, self._generator)),
        )
