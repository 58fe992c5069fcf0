"""The core never imports Qt or pyqtgraph: read from the source with ``ast`` (every
import, even inside a function), and checked in a clean interpreter."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import metaviz
from tests.core.import_scan import PACKAGE_DIR, all_imports, module_name, source_files

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "pyqtgraph", "shiboken6")
# The one way from the core into the window: the CLI opens it (lazily, inside main()).
ALLOWED_UI_IMPORTS = {("metaviz.cli", "metaviz.ui.launch")}


def _outside_ui(module: str) -> bool:
    return not (module == "metaviz.ui" or module.startswith("metaviz.ui."))


def _is_qt(name: str) -> bool:
    return name.split(".")[0] in QT


def test_no_file_outside_the_window_imports_qt_even_lazily():
    edges = [e for e in all_imports() if _outside_ui(e.source)]
    assert {e.source for e in edges} >= {"metaviz.cli", "metaviz.commands", "metaviz.jobs.reproduce"}
    qt = [f"{e.path.relative_to(ROOT)}:{e.line} imports {e.target}" for e in edges if _is_qt(e.target)]
    assert not qt, "\n".join(qt)


def test_only_the_cli_reaches_into_the_window_and_only_inside_a_function():
    edges = [e for e in all_imports() if _outside_ui(e.source) and not _outside_ui(e.target)]
    assert {(e.source, e.target) for e in edges} <= ALLOWED_UI_IMPORTS, edges
    assert ("metaviz.cli", "metaviz.ui.launch") in {(e.source, e.target) for e in edges}
    assert not [e for e in edges if e.module_level], "metaviz.cli must import the window lazily"


def test_no_qt_by_name_through_importlib_either():
    offenders = []
    for path in source_files():
        if not _outside_ui(module_name(path)):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_qt(node.value.strip()):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not offenders, "\n".join(offenders)


def test_the_scan_would_see_a_lazy_qt_import(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("def f():\n    if True:\n        from PySide6 import QtCore\n")
    edges = all_imports(package, "pkg")
    assert [(e.source, e.target, e.module_level) for e in edges] == [("pkg.mod", "PySide6", False)]


def test_core_modules_import_no_qt():
    core = [
        info.name
        for info in pkgutil.walk_packages(metaviz.__path__, "metaviz.")
        if _outside_ui(info.name)
    ]
    assert "metaviz.learners.maml" in core and "metaviz.cli" in core and "metaviz.jobs.training" in core
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name)\n"
        "from metaviz.learners import learner_names\n"
        "from metaviz.tasks import family_names\n"
        "learner_names(); family_names()\n"  # the registries import every built-in module
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert PACKAGE_DIR == Path(metaviz.__file__).resolve().parent
