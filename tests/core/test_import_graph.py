"""No import cycle among metaviz's modules, read from the source with ``ast``.

A cycle of module-level imports works or breaks depending on which module a user
imports first (a half-initialised module raises ImportError for a name defined below
the import). Function-level imports run later and are how a module reaches one that
imports it; they are in the graph but may close a loop.
"""

import ast
from pathlib import Path

from tests.core.import_scan import (
    PACKAGE_DIR,
    all_imports,
    find_cycle,
    internal_graph,
    module_name,
    resolve_relative,
    source_files,
)


def _modules():
    return {module_name(p) for p in source_files()}


def test_relative_imports_resolve_like_python_does():
    assert resolve_relative("metaviz.jobs.training", False, 2, "learners.base") == "metaviz.learners.base"
    assert resolve_relative("metaviz.jobs.training", False, 1, "control") == "metaviz.jobs.control"
    assert resolve_relative("metaviz.jobs", True, 1, "control") == "metaviz.jobs.control"
    assert resolve_relative("metaviz.jobs", True, 2, "config") == "metaviz.config"
    assert resolve_relative("metaviz.cli", False, 1, None) == "metaviz"
    assert resolve_relative("metaviz.cli", False, 0, "metaviz.ui.launch") == "metaviz.ui.launch"
    assert module_name(PACKAGE_DIR / "tasks" / "__init__.py") == "metaviz.tasks"


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"b2", "c"}, "b2": set(), "c": {"b"}}) == ["b", "c", "b"]


def test_every_metaviz_import_names_an_existing_module():
    modules = _modules()
    edges = all_imports()
    internal = [e for e in edges if e.target == "metaviz" or e.target.startswith("metaviz.")]
    assert len(internal) > 50  # the scan sees the real imports, relative ones included
    missing = [f"{e.path.relative_to(PACKAGE_DIR.parent)}:{e.line} imports {e.target}"
               for e in internal if e.target not in modules]
    assert not missing, "\n".join(missing)


def test_the_graph_holds_module_and_function_level_edges():
    edges = {(e.source, e.target, e.module_level) for e in all_imports()}
    assert ("metaviz.jobs.training", "metaviz.learners.base", True) in edges
    assert ("metaviz.learners.maml", "metaviz.learners.registry", True) in edges
    assert ("metaviz.tasks", "metaviz.tasks.base", True) in edges
    # Lazy imports are edges too, marked as such.
    assert ("metaviz.learners.registry", "metaviz.learners.base", False) in edges
    assert ("metaviz.cli", "metaviz.commands", False) in edges
    assert ("metaviz.cli", "metaviz.ui.launch", False) in edges


def test_no_cycle_among_module_level_imports():
    graph = internal_graph(all_imports(), module_level_only=True)
    assert set(graph) == _modules()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle at module level: " + " -> ".join(cycle)


def test_the_light_modules_stay_light():
    graph = internal_graph(all_imports(), module_level_only=True)
    # `import metaviz` costs nothing; the CLI parses before it imports any command.
    assert graph["metaviz"] == set()
    # (interrupts is stdlib-only: it must load before anything heavy to catch an early Ctrl-C.)
    assert graph["metaviz.cli"] <= {"metaviz.config", "metaviz.devices", "metaviz.interrupts"}, graph["metaviz.cli"]
    assert graph["metaviz.interrupts"] == set()
    # The --device choices are read by the parser: devices imports torch only when asked.
    assert graph["metaviz.devices"] == set()
    top = ast.parse((Path(__file__).parents[2] / "metaviz" / "devices.py").read_text()).body
    modules = {alias.name for node in top if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in top if isinstance(node, ast.ImportFrom)}
    assert "torch" not in {str(name).split(".")[0] for name in modules}
    # The registry is a leaf, so config, learners and families can all depend on it.
    assert graph["metaviz.registry"] == set()
    # config.py knows no learner or family.
    assert graph["metaviz.config"] == set()
    # The streams module names every stream; it needs nothing of metaviz.
    assert graph["metaviz.streams"] == set()
    # Nothing outside the window imports the window at module level.
    outside_ui = {m: targets for m, targets in graph.items() if not m.startswith("metaviz.ui")}
    assert not [m for m, targets in outside_ui.items() if any(t.startswith("metaviz.ui") for t in targets)]
