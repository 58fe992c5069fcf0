"""Entry points called by the CLI: ``launch()`` (the window) and ``screenshot()``.

Qt aborts the process with a cryptic message when it has no display or when the
xcb platform plugin's system libraries are missing; :func:`display_problem` finds
both first, so the user gets a sentence and the exact install line instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ..devices import check_choice

# The libraries Qt 6's xcb plugin loads (Debian/Ubuntu package names beside them).
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-image": "libxcb-image0",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xinerama": "libxcb-xinerama0",
    "xcb-xkb": "libxcb-xkb1",
}
INSTALL_LINE = "sudo apt-get install " + " ".join(XCB_LIBRARIES.values())


def library_present(name: str) -> bool:
    """True if the shared library ``lib<name>.so`` can be found and loaded."""
    found = ctypes.util.find_library(name)
    if found is None:
        return False
    try:
        ctypes.CDLL(found)
    except OSError:
        return False
    return True


def display_problem(env: Mapping[str, str], probe: Callable[[str], bool] | None = None,
                    platform: str | None = None) -> str | None:
    """Why Qt would fail to open a window here, with the fix; None if it should work.

    ``env`` is the process environment, ``probe(name)`` says whether ``lib<name>`` loads
    (default :func:`library_present`), ``platform`` defaults to ``sys.platform``.
    """
    probe = probe or library_present
    platform = platform or sys.platform
    if env.get("QT_QPA_PLATFORM"):
        return None  # the user chose a platform plugin (offscreen, wayland, ...): trust it
    if not platform.startswith("linux"):
        return None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("metaviz: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
                "Run it in a desktop session, or over ssh with X forwarding (ssh -X).\n"
                "Headless: QT_QPA_PLATFORM=offscreen python main.py screenshot out.png")
    if env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return None  # Qt uses its wayland plugin, which needs none of the xcb libraries
    missing = [package for name, package in XCB_LIBRARIES.items() if not probe(name)]
    if missing:
        return ("metaviz: Qt's xcb platform plugin cannot load: missing system libraries "
                f"({', '.join(missing)}).\nInstall them with:\n  {INSTALL_LINE}")
    return None


def launch(device: str = "auto") -> int:
    """Open the explorer window, training on ``device`` (auto, cpu or cuda: see
    :func:`metaviz.devices.resolve_device`); returns the exit code."""
    check_choice(device)  # cuda asked for where there is none: one line, before any window
    problem = display_problem(os.environ)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from .app import run

    return run(device)


def _wait_for(signal, done) -> None:
    """Run the event loop until ``signal`` fires with arguments that ``done`` accepts."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    signal.connect(lambda *args: loop.quit() if done(*args) else None)
    loop.exec()


def _train(window, kind: str, iterations: int) -> None:
    """Select ``kind`` and train it ``iterations`` meta-steps in the window, as a user would."""
    window.model.switch_learner(kind)
    window.model.set_budget(iterations)
    window.model.start()
    _wait_for(window.stateChanged, lambda state: state in ("done", "diverged", "idle"))


def _settle(window) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(300, loop.quit)  # let the last frames paint
    loop.exec()
    window.explore.draw_now()


def screenshot(path: Path, iterations: int, tour: bool = False, size: tuple[int, int] | None = None) -> int:
    """Train ``iterations`` MAML meta-steps in the real window, then save it as a PNG.

    ``tour`` also trains the multi-task model and the pretrained baseline and saves the
    Compare tab (PATH-compare.png) and the Evaluate tab after a 300-task run
    (PATH-evaluate.png).
    """
    problem = display_problem(os.environ)
    if problem:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    from .app import make_app, make_window
    from .settings import Preferences

    _app = make_app()  # keeps the QApplication alive until we return
    paths = [path]
    with tempfile.TemporaryDirectory() as folder:  # never the user's preferences
        window = make_window(Preferences(Path(folder) / "prefs.ini"))
        window.task_panel.show_query.setChecked(True)
        window.model.set_adaptation(steps=10)
        window.controls.refresh()
        if size is not None:
            window.resize(*size)
        window.show()
        _train(window, "maml", iterations)
        _settle(window)
        shots = [window.grab()]
        if tour:
            for kind in ("multitask", "pretrained"):
                _train(window, kind, iterations)
            window.model.switch_learner("maml")
            window.session.show_tab(window.session.compare)
            _settle(window)
            shots.append(window.grab())
            evaluation = window.session.evaluation
            window.session.show_tab(evaluation)
            evaluation.form.tasks.setValue(300)
            evaluation.run()
            _wait_for(evaluation.results_changed, lambda results: True)
            _settle(window)
            shots.append(window.grab())
            paths += [path.with_name(f"{path.stem}-{name}{path.suffix}") for name in ("compare", "evaluate")]
        window.close()
    from .export import ExportError, png_bytes, write_bytes

    for image, target in zip(shots, paths):
        try:  # atomically, like every file metaviz writes; the reason when it cannot
            write_bytes(target, png_bytes(image.toImage()))
        except ExportError as exc:
            print(f"metaviz: error: {exc}", file=sys.stderr)
            return 1
        print(f"saved {target}")
    return 0
