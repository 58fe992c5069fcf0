"""Tasks shown in the explorer: immutable samples and a history the user can walk.

Qt-free. Every edit (add/remove/clear points, resample, hand-made task parameters)
returns a new :class:`TaskSample`; the history stores it in place of the current
entry, so walking back and forth shows each task as last edited.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .streams import Stream, stream
from .tasks import TaskFamily


@dataclass(frozen=True, eq=False)
class TaskSample:
    """One task of ``family`` (its parameters ``params``, in the family's declared order)
    with K support and Q query points.

    ``x_support``/``y_support``: [K]; ``x_query``/``y_query``: [Q] (float64 numpy).
    """

    family: TaskFamily
    params: tuple[float, ...]
    x_support: np.ndarray
    y_support: np.ndarray
    x_query: np.ndarray
    y_query: np.ndarray

    @property
    def shots(self) -> int:
        return len(self.x_support)

    def truth(self, x: np.ndarray) -> np.ndarray:
        """The noise-free function at x [N] (float64), from the family's own truth."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float64)).view(1, -1, 1)
        tasks = torch.tensor([self.params], dtype=torch.float64)
        return self.family.truth(tasks, x).reshape(-1).numpy()

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

    def with_task(self, params) -> TaskSample:
        """The same inputs relabelled by hand-made task parameters (noise-free)."""
        moved = replace(self, params=tuple(float(v) for v in params))
        return replace(moved, y_support=moved.truth(self.x_support), y_query=moved.truth(self.x_query))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.reshape(-1).numpy().astype(np.float64)


class TaskHistory:
    """Random tasks drawn from ``family`` with a seeded generator, and a cursor."""

    def __init__(self, family: TaskFamily, seed: int, query: int = 10) -> None:
        self.family = family
        self.query = query
        self._generator = stream(Stream.WINDOW_TASKS, seed)
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
        tasks = self.family.sample_tasks(1, self._generator)
        self._entries.append(self._points(tuple(tasks[0].tolist()), shots))
        self._index = len(self._entries) - 1
        return self.current

    def resample(self, shots: int) -> TaskSample:
        """New support and query points for the current task."""
        return self.replace(self._points(self.current.params, shots))

    def previous(self) -> TaskSample:
        self._index = max(self._index - 1, 0)
        return self.current

    def next(self) -> TaskSample:
        self._index = min(self._index + 1, len(self._entries) - 1)
        return self.current

    def replace(self, sample: TaskSample) -> TaskSample:
        self._entries[self._index] = sample
        return sample

    def _points(self, params: tuple[float, ...], shots: int) -> TaskSample:
        tasks = torch.tensor([params], dtype=torch.float32)
        x_support = self.family.sample_x(tasks, shots, self._generator)
        x_query = self.family.sample_x(tasks, self.query, self._generator)
        return TaskSample(
            family=self.family,
            params=tuple(params),
            x_support=_numpy(x_support),
            y_support=_numpy(self.family.observe(tasks, x_support, self._generator)),
            x_query=_numpy(x_query),
            y_query=_numpy(self.family.observe(tasks, x_query, self._generator)),
        )
