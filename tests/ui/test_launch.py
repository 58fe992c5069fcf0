"""The platform check before Qt starts, and the Qt bindings we pin."""

from __future__ import annotations

import sys

from metaviz.ui.launch import INSTALL_LINE, XCB_LIBRARIES, display_problem


def present(name):
    return True


def test_no_display_is_reported():
    problem = display_problem({}, present, platform="linux")
    assert problem is not None and "no display" in problem


def test_missing_xcb_libraries_are_named_with_the_install_line():
    problem = display_problem({"DISPLAY": ":0"}, lambda name: name not in ("xcb-cursor", "xcb-xkb"),
                              platform="linux")
    assert "libxcb-cursor0" in problem and "libxcb-xkb1" in problem
    assert INSTALL_LINE in problem
    assert INSTALL_LINE.startswith("sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0")
    assert set(XCB_LIBRARIES.values()) <= set(INSTALL_LINE.split())


def test_a_working_desktop_passes():
    assert display_problem({"DISPLAY": ":0"}, present, platform="linux") is None


def test_a_chosen_platform_or_wayland_is_trusted():
    missing = lambda name: False  # noqa: E731
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, missing, platform="linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, missing, platform="linux") is None
    assert display_problem({}, missing, platform="darwin") is None


def test_the_pinned_qt_bindings_keep_none_and_bools_alive(qapp):
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None/True/False on every
    void call and emit, and CPython aborts after a few thousand (none_dealloc). The lock
    pins 6.11.3 and pyproject excludes 6.12.0; this guards against a bump."""
    from PySide6.QtCore import QObject, QTimer, Signal

    class Emitter(QObject):
        fired = Signal(bool)

    emitter, timer = Emitter(), QTimer()
    emitter.fired.connect(lambda value: None)
    before = [sys.getrefcount(o) for o in (None, True, False)]
    for _ in range(2_000):
        timer.stop()
        qapp.processEvents()
        emitter.fired.emit(True)
        emitter.fired.emit(False)
    after = [sys.getrefcount(o) for o in (None, True, False)]
    assert all(a >= b - 100 for a, b in zip(after, before)), (before, after)


def test_launch_prints_the_fix_instead_of_aborting(monkeypatch, capsys):
    from metaviz.ui import launch as launch_module

    monkeypatch.setattr(launch_module.os, "environ", {"DISPLAY": ":0"})
    monkeypatch.setattr(launch_module, "library_present", lambda name: name != "xcb-cursor")
    monkeypatch.setattr(launch_module.sys, "platform", "linux")
    assert launch_module.launch() == 1
    err = capsys.readouterr().err
    assert "libxcb-cursor0" in err and INSTALL_LINE in err
