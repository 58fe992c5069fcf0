"""What a job yields, and the headless way to run one.

- :class:`Progress` (and subclasses such as training progress) may be coalesced: a
  driver that shows only the latest may merge a burst into one with
  :meth:`Progress.merged_after` (training progress carries the losses of every step it
  replaces, so none are lost).
- :class:`Log` lines and the :class:`Result` are never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .control import JobControl


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units; ``text`` says what is being done."""

    done: int
    total: int
    text: str = ""

    def merged_after(self, earlier: Progress) -> Progress:
        """This progress standing in for ``earlier`` too (the latest wins)."""
        return self


@dataclass(frozen=True)
class Log:
    text: str


@dataclass(frozen=True)
class Result:
    value: Any


class Cancelled(Exception):
    """Raised by :func:`drain` when ``control`` asked the job to stop."""


def drain(job: Iterator, control: JobControl | None = None,
          on_event: Callable[[Any], None] | None = None) -> Any:
    """Run ``job`` here to its end and return its last :class:`Result` value (None if none).

    ``on_event`` sees every event; ``control`` (checked between units) may pause or stop
    it: a stop closes the job (running its clean-up) and raises :class:`Cancelled`.
    """
    result = None
    try:
        while True:
            if control is not None and not control.wait_for_turn():
                raise Cancelled()
            try:
                event = next(job)
            except StopIteration:
                return result
            if isinstance(event, Result):
                result = event.value
            if on_event is not None:
                on_event(event)
    finally:
        close = getattr(job, "close", None)
        if close is not None:
            close()
