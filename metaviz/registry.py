"""A registry of declared things (learners, task families), filled from modules.

Each built-in module of a package declares what it adds in a module-level tuple
(``LEARNERS`` or ``FAMILIES``); :class:`Registry` imports every module of the package
once and collects those declarations, so no list of them is written anywhere else.
Plugins (:mod:`metaviz.plugins`) add the declarations of a user's file the same way.

This module is a leaf: it imports nothing of metaviz, so the config, the learners and
the families can all depend on it without a cycle.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name that no built-in module or loaded plugin declares; the message says which exist."""


class Registry(Generic[T]):
    """Declarations by name. ``attribute`` is the module-level tuple that holds them,
    ``package`` the package whose modules are built in, ``check(item)`` raises
    ``ValueError`` when an item breaks the contract."""

    def __init__(self, what: str, attribute: str, package: str, name_of: Callable[[T], str],
                 check: Callable[[T], None]) -> None:
        self.what = what
        self.attribute = attribute
        self.package = package
        self._name_of = name_of
        self.check = check
        self._items: dict[str, T] = {}
        self._origins: dict[str, str | None] = {}
        self._loaded = False

    def _load_builtin(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            module = importlib.import_module(f"{self.package}.{info.name}")
            self.add_from(module, origin=None)

    def declared_in(self, module) -> tuple[T, ...]:
        """The items ``module`` declares (its ``attribute`` tuple; none if absent)."""
        items = getattr(module, self.attribute, ())
        if not isinstance(items, (tuple, list)):
            raise ValueError(f"{self.attribute} must be a tuple, got {type(items).__name__}")
        return tuple(items)

    def prepare(self, module, origin: str | None) -> list[tuple[str, T]]:
        """The (name, item) pairs ``module`` declares, every one checked, no name taken
        by another origin; raises ``ValueError`` and adds nothing."""
        if origin is not None:
            self._load_builtin()  # built-ins first, so a plugin cannot take one of their names
        items = self.declared_in(module)
        for item in items:
            self.check(item)
        names = [self._name_of(item) for item in items]
        for name in names:
            previous = self._origins.get(name, "")
            if name in self._items and previous != origin:
                where = "metaviz itself" if previous is None else previous
                raise ValueError(f"{self.what} {name!r} is already declared by {where}")
            if names.count(name) > 1:
                raise ValueError(f"{self.what} {name!r} is declared twice")
        return list(zip(names, items))

    def commit(self, pairs: list[tuple[str, T]], origin: str | None) -> list[str]:
        """Add what :meth:`prepare` returned; returns the names."""
        for name, item in pairs:
            self._items[name] = item
            self._origins[name] = origin
        return [name for name, _ in pairs]

    def add_from(self, module, origin: str | None) -> list[str]:
        """Register every item ``module`` declares; ``origin`` is the plugin file (None when
        built in). All items are checked before any is added. Returns their names."""
        return self.commit(self.prepare(module, origin), origin)

    def get(self, name: str) -> T:
        self._load_builtin()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.what} {name!r}; known: {', '.join(self.names())} "
                f"(a {self.what} of your own loads with --plugin FILE or METAVIZ_PLUGINS)"
            ) from None

    def names(self) -> list[str]:
        self._load_builtin()
        return list(self._items)

    def items(self) -> Iterable[T]:
        self._load_builtin()
        return list(self._items.values())

    def origin(self, name: str) -> str | None:
        """The plugin file that declared ``name``, or None for a built-in one."""
        self._load_builtin()
        return self._origins.get(name)
