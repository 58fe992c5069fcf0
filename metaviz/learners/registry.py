"""Learner declarations and the registry that collects them.

A learner module declares what it adds in a module-level ``LEARNERS`` tuple of
:class:`LearnerSpec`; nothing else lists learners. Config validation, the CLI's
choices, the window's selector, the session list, compare, evaluate and every export
read the declarations through :data:`LEARNER_REGISTRY`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import TrainConfig
from ..registry import Registry

# Settings only some learners read; the window enables a control only for the learners
# that list it in ``uses`` (the rest: learner, budget, seed, meta lr, K, meta-batch,
# are read by every learner).
OPTIONAL_SETTINGS = frozenset({"inner_lr", "inner_steps", "pool_size", "adapt_lr"})


@dataclass(frozen=True)
class LearnerSpec:
    """Everything metaviz needs to know about a learner, declared once.

    ``name``: registry key, CLI choice and checkpoint kind. ``label``: its one name in
    every view and export. ``colour``: its one colour (hex). ``cls(config, **options)``
    builds it. ``defaults``: :class:`~metaviz.config.TrainConfig` fields that differ
    from the paper's MAML setup. ``uses``: which of :data:`OPTIONAL_SETTINGS` it reads.
    ``description``: one line for tooltips and ``--help``. ``step_ms``: about how long
    one meta-iteration of its defaults takes on one core, validation included (measured
    here; only relative sizes matter): worker processes take the longest runs first,
    so that two workers end together.
    """

    name: str
    label: str
    colour: str
    cls: type
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    uses: frozenset[str] = frozenset()
    options: Mapping[str, Any] = field(default_factory=dict)
    step_ms: float = 1.0


def check_spec(spec: Any) -> None:
    """Raise ``ValueError`` naming what a declaration gets wrong."""
    from .base import Learner  # base imports this module's neighbours only; no cycle at call time

    if not isinstance(spec, LearnerSpec):
        raise ValueError(f"LEARNERS must hold LearnerSpec declarations, got {spec!r}")
    if not spec.name.isidentifier():
        raise ValueError(f"learner name must be an identifier, got {spec.name!r}")
    if not (isinstance(spec.cls, type) and issubclass(spec.cls, Learner)):
        raise ValueError(f"learner {spec.name!r}: cls must be a subclass of metaviz.learners.Learner")
    missing = sorted(getattr(spec.cls, "__abstractmethods__", ()))
    if missing:
        raise ValueError(f"learner {spec.name!r} does not implement {', '.join(missing)}")
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", spec.colour):
        raise ValueError(f"learner {spec.name!r}: colour must be like '#1f77b4', got {spec.colour!r}")
    if not (isinstance(spec.step_ms, (int, float)) and 0 < spec.step_ms < float("inf")):
        raise ValueError(f"learner {spec.name!r}: step_ms must be a positive number, got {spec.step_ms!r}")
    unknown = sorted(set(spec.uses) - OPTIONAL_SETTINGS)
    if unknown:
        raise ValueError(f"learner {spec.name!r}: uses names unknown settings {unknown}")
    try:
        TrainConfig(learner=spec.name, **spec.defaults)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"learner {spec.name!r}: invalid defaults ({exc})") from None


LEARNER_REGISTRY: Registry[LearnerSpec] = Registry(
    "learner", "LEARNERS", "metaviz.learners", name_of=lambda spec: spec.name, check=check_spec
)


def learner_spec(name: str) -> LearnerSpec:
    return LEARNER_REGISTRY.get(name)


def learner_names() -> list[str]:
    return LEARNER_REGISTRY.names()


def default_config(learner: str = "maml", **changes: Any) -> TrainConfig:
    """The defaults for ``learner``: the paper's setup plus that learner's own defaults."""
    base = TrainConfig(learner=learner, **learner_spec(learner).defaults)
    return base.with_changes(**changes) if changes else base


def make_learner(config: TrainConfig):
    """A freshly initialised learner of ``config.learner``, seeded by ``config.seed``."""
    spec = learner_spec(config.learner)
    return spec.cls(config, **spec.options)
