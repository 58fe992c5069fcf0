"""Ctrl-C pressed while metaviz starts is remembered, not lost.

Python turns SIGINT into ``KeyboardInterrupt`` at whatever bytecode runs next. In the
first seconds that is torch's import, and library code can swallow the exception (a C
extension clearing an error it did not expect): the interrupt vanished and training
ran on. So from the first line of ``main.py`` (and of :func:`metaviz.cli.main`) until a
command can stop cleanly, SIGINT only sets a flag (:func:`defer`). A command then
takes it: :func:`honour` puts Python's handler back and raises ``KeyboardInterrupt``
if Ctrl-C came meanwhile; ``train`` asks :func:`take_pending` when its own handler
(stop between meta-steps) takes over. A second Ctrl-C while deferred interrupts at
once, so start-up that hangs (a plugin's import, say) can still be stopped.
"""

from __future__ import annotations

import signal
import threading

_pending = False


def _remember(signum, frame) -> None:
    global _pending
    if _pending:  # the second Ctrl-C: the user means it now
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt
    _pending = True


def defer() -> None:
    """Remember Ctrl-C instead of raising it (main thread only: signals go there)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _remember)


def deferring() -> bool:
    return signal.getsignal(signal.SIGINT) is _remember


def take_pending() -> bool:
    """Whether Ctrl-C came while deferred (and forget it)."""
    global _pending
    pending, _pending = _pending, False
    return pending


def honour() -> None:
    """Back to Python's Ctrl-C (``KeyboardInterrupt``); raise it now if one came meanwhile."""
    if deferring():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if take_pending():
        raise KeyboardInterrupt
