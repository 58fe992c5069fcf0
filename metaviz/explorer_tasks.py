"""The explorer's task browser: the current few-shot task and its history (new, previous,
next, resampled, edited point by point, hand-set parameters, a drawn truth).

A part of :class:`~metaviz.explorer.Explorer` (it uses the explorer's ``history``,
``config`` and ``events``); Qt-free.
"""

from __future__ import annotations

from .task_history import TaskSample


class TaskBrowsing:
    """Methods of :class:`~metaviz.explorer.Explorer` about the task on show."""

    def _show(self, sample: TaskSample) -> None:
        self.events.task.emit()

    def new_task(self) -> None:
        self._show(self.history.new_random(self.config.shots))

    def previous_task(self) -> None:
        self._show(self.history.previous())

    def next_task(self) -> None:
        self._show(self.history.next())

    def resample(self) -> None:
        self._show(self.history.resample(self.config.shots))

    def edit_task(self, sample: TaskSample) -> None:
        """Replace the current task by an edited copy (points added, cleared, re-labelled)."""
        self._show(self.history.replace(sample))

    def clear_points(self) -> None:
        self.edit_task(self.history.current.cleared())

    def add_point(self, x: float, y: float) -> None:
        self.edit_task(self.history.current.with_point(x, y))

    def remove_nearest(self, x: float, y: float, y_scale: float = 1.0) -> None:
        self.edit_task(self.history.current.without_nearest(x, y, y_scale))

    def set_task_params(self, params) -> None:
        self.edit_task(self.history.current.with_task(params))

    def draw_truth(self, xs, ys) -> None:
        """A new task whose truth is the curve the user drew through (``xs``, ``ys``), with
        K points sampled on it (see :meth:`TaskHistory.draw`; ValueError for a stroke that
        spans fewer than two x values)."""
        self._show(self.history.draw(xs, ys, self.config.shots))
