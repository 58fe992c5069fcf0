"""The QApplication and the window: names, fonts, one torch thread per side, clean exit."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from .settings import APPLICATION, ORGANISATION, Preferences


def make_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created once)."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    return app


def make_window(preferences: Preferences | None = None, config=None, device: str = "auto"):
    """The main window. torch is imported here, after the QApplication exists."""
    import pyqtgraph as pg
    import torch

    # The worker trains on one core; the GUI thread's redraws get the other.
    torch.set_num_threads(1)
    pg.setConfigOptions(antialias=True)
    from .main_window import MainWindow

    return MainWindow(preferences or Preferences(), config, device)


def run(device: str = "auto") -> int:
    """Show the window and run the event loop; the window joins its worker on close."""
    app = make_app()
    window = make_window(device=device)
    window.show()
    return app.exec()
