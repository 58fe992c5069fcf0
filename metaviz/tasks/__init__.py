"""Task families: the contract (:mod:`.base`) and one module per family.

Use :func:`make_family` to build the family a :class:`~metaviz.config.TaskConfig` names
and :func:`family_names` for the choices; both read :data:`FAMILY_REGISTRY`, filled from
the ``FAMILIES`` tuple of each module here and of loaded plugins.
"""

from __future__ import annotations

from ..config import TaskConfig
from ..registry import Registry
from ..streams import make_generator
from .base import Option, Parameter, TaskBatch, TaskFamily, check_family

FAMILY_REGISTRY: Registry[type[TaskFamily]] = Registry(
    "task family", "FAMILIES", __name__, name_of=lambda cls: cls.name, check=check_family
)


def make_family(config: TaskConfig | None = None) -> TaskFamily:
    """The family ``config.family`` with ``config``'s ranges (the sinusoid by default)."""
    config = config or TaskConfig()
    return FAMILY_REGISTRY.get(config.family)(config)


def family_names() -> list[str]:
    return FAMILY_REGISTRY.names()


__all__ = ["FAMILY_REGISTRY", "Option", "Parameter", "TaskBatch", "TaskFamily", "family_names", "make_family",
           "make_generator"]
