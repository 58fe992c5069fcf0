"""User learners and task families, from the user's own Python files.

A plugin file declares what it adds exactly as metaviz's own modules do: a
``LEARNERS`` tuple of :class:`~metaviz.learners.LearnerSpec` and/or a ``FAMILIES``
tuple of :class:`~metaviz.tasks.TaskFamily` subclasses. It is found through:

- ``--plugin FILE`` on any CLI command (repeatable);
- the ``METAVIZ_PLUGINS`` environment variable (files separated by ``os.pathsep``), for
  the window and the CLI;
- the ``metaviz.plugins`` entry-point group of installed packages (the entry point
  names a module).

A plugin that fails to import or breaks the contract raises (explicit files) or is
reported as one line naming the file and the problem (the others), and everything
else keeps working. README's "Extend metaviz" gives the contract and two examples.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .learners.registry import LEARNER_REGISTRY
from .tasks import FAMILY_REGISTRY

ENV_VAR = "METAVIZ_PLUGINS"
ENTRY_POINT_GROUP = "metaviz.plugins"
_loaded: dict[str, list[str]] = {}  # resolved file -> names it declared


class PluginError(ValueError):
    """A plugin could not be loaded; the message names the file and the problem."""


def _register(module, origin: str) -> list[str]:
    # Check both kinds (contract and names) before adding either, so a half-broken file adds nothing.
    prepared = [(registry, registry.prepare(module, origin)) for registry in (FAMILY_REGISTRY, LEARNER_REGISTRY)]
    if not any(pairs for _, pairs in prepared):
        raise ValueError("declares no LEARNERS and no FAMILIES")
    return [name for registry, pairs in prepared for name in registry.commit(pairs, origin)]


def load_plugin_file(path: str | os.PathLike) -> list[str]:
    """Import the plugin at ``path`` (once) and register what it declares; returns the
    names. Raises :class:`PluginError` with one line naming the file and the problem."""
    file = Path(path).expanduser()
    key = str(file.resolve())
    if key in _loaded:
        return _loaded[key]
    if not file.is_file():
        raise PluginError(f"plugin {path}: no such file")
    module_name = f"metaviz_plugin_{abs(hash(key)):x}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ValueError("not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
        spec.loader.exec_module(module)
        names = _register(module, key)
    except Exception as exc:  # noqa: BLE001 - a user's file can fail in any way: one line, never a traceback
        sys.modules.pop(module_name, None)
        raise PluginError(f"plugin {path}: {type(exc).__name__}: {exc}" if not isinstance(exc, ValueError)
                          else f"plugin {path}: {exc}") from exc
    _loaded[key] = names
    return names


def load_module_plugin(module_name: str) -> list[str]:
    """An installed plugin module (from an entry point)."""
    try:
        module = importlib.import_module(module_name)
        return _register(module, module_name)
    except Exception as exc:  # noqa: BLE001 - as for files
        raise PluginError(f"plugin {module_name}: {exc}") from exc


def load_plugins(files=(), environ: Mapping[str, str] | None = None, entry_points: bool = True) -> list[str]:
    """Load ``files`` (errors raise :class:`PluginError`), then the files in
    ``METAVIZ_PLUGINS`` and the installed entry points (errors are returned as lines,
    and loading goes on)."""
    for file in files:
        load_plugin_file(file)
    problems = []
    environ = os.environ if environ is None else environ
    for file in filter(None, environ.get(ENV_VAR, "").split(os.pathsep)):
        try:
            load_plugin_file(file)
        except PluginError as exc:
            problems.append(f"{exc} (from {ENV_VAR})")
    if entry_points:
        from importlib.metadata import entry_points as installed

        for point in installed(group=ENTRY_POINT_GROUP):
            try:
                load_module_plugin(point.value.split(":")[0])
            except PluginError as exc:
                problems.append(str(exc))
    return problems


def plugin_files(*names: str) -> list[str]:
    """The plugin files that declared any of ``names`` (learner or family names), for
    checkpoints: loading one can then find the plugin it needs."""
    files = []
    for name in names:
        for registry in (LEARNER_REGISTRY, FAMILY_REGISTRY):
            if name in registry.names():
                origin = registry.origin(name)
                if origin is not None and origin not in files and Path(origin).is_file():
                    files.append(origin)
    return files
