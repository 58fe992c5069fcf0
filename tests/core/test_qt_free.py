"""The core never imports Qt or pyqtgraph (checked in a clean interpreter)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import metaviz

ROOT = Path(__file__).resolve().parents[2]


def test_core_modules_import_no_qt():
    core = [
        info.name
        for info in pkgutil.walk_packages(metaviz.__path__, "metaviz.")
        if not info.name.startswith("metaviz.ui")
    ]
    assert "metaviz.learners.maml" in core and "metaviz.cli" in core
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
