"""Resident memory of the real window while it trains and draws, sampled every few seconds.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/window_memory.py [--seconds 600]

Prints RSS after start-up, then every sample, then the peak and the growth over the
run (targets: under 500 MB, growth under 50 MB over 10 minutes). Reported, not asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    """Current resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer

    from metaviz.ui.app import make_app, make_window
    from metaviz.ui.settings import Preferences

    started = time.perf_counter()
    app = make_app()
    with tempfile.TemporaryDirectory() as folder:
        window = make_window(Preferences(Path(folder) / "prefs.ini"))
        window.model.set_budget(10_000_000)  # more than any run here reaches: it trains all the time
        window.show()
        app.processEvents()
        print(f"window shown after {time.perf_counter() - started:.1f}s; RSS {rss_mb():.0f} MB")
        window.model.start()
        first = peak = rss_mb()
        loop = QEventLoop()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            QTimer.singleShot(int(args.every * 1000), loop.quit)
            loop.exec()
            now = rss_mb()
            peak = max(peak, now)
            snapshot = window.model.snapshot
            iteration = snapshot.iteration if snapshot else 0
            print(f"{time.monotonic() - deadline + args.seconds:6.0f}s  iteration {iteration:6d}  RSS {now:.0f} MB",
                  flush=True)
        window.close()
    print(f"peak RSS {peak:.0f} MB; growth while training {peak - first:+.0f} MB over {args.seconds:.0f}s")


if __name__ == "__main__":
    main()
