"""Work around a reference-count bug of PySide6 6.12 on Python < 3.12.

Its bindings return ``None`` from void methods (``QTimer.stop``, ``QWidget.update``,
``processEvents`` ...) and ``True``/``False`` from ``Signal.emit`` without taking a
reference, as if these were immortal (they are only since Python 3.12, PEP 683).
Each call drops one reference the interpreter owns; after a few thousand calls
CPython aborts ("Fatal Python error: none_dealloc" / "bool_dealloc"). We detect
the leak and give these three objects reference counts so large that no session
can exhaust them, which is what 3.12 does by design.
"""

from __future__ import annotations

import ctypes
import sys

_EXTRA_REFERENCES = 1 << 48


def none_references_leak() -> bool:
    """True if a void Qt call loses a reference to ``None`` here."""
    from PySide6.QtCore import QTimer

    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(100):
        timer.stop()
    return sys.getrefcount(None) < before - 50


def protect_none() -> bool:
    """Apply the workaround if needed (idempotent); True if it was applied now."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > _EXTRA_REFERENCES // 2 or not none_references_leak():
        return False
    for immortal in (None, True, False):  # ob_refcnt is the first field of every object
        ctypes.c_ssize_t.from_address(id(immortal)).value += _EXTRA_REFERENCES
    return True
