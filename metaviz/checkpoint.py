"""Checkpoints: atomic save, safe load (``weights_only=True``), clear errors.

A checkpoint holds only tensors and plain values: the format tag and version, the
learner kind, its settings as a dict, its parameters and optimiser state, and the
trainer's RNG stream and history, so training resumes exactly where it stopped.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .files import WriteError, write_atomic
from .jobs.training import Trainer
from .learners import Learner, make_learner
from .plugins import plugin_files
from .registry import UnknownNameError

FORMAT = "metaviz-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint could not be written or read; the message says why, for a person."""


def save_checkpoint(path: str | os.PathLike, trainer: Trainer) -> Path:
    """Write ``trainer`` (and its learner) to ``path`` atomically (:mod:`metaviz.files`):
    a crash never leaves half a checkpoint. Raises :class:`CheckpointError`."""
    learner = trainer.learner
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": learner.kind,
        "config": learner.config.to_dict(),
        "plugins": plugin_files(learner.kind, learner.config.task.family),
        "learner": learner.state_dict(),
        "trainer": trainer.state_dict(),
    }
    try:
        return write_atomic(path, lambda handle: torch.save(payload, handle))
    except WriteError as exc:
        raise CheckpointError(str(exc)) from exc


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The validated payload of a checkpoint file. Never runs code from the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # The weights-only unpickler names the global it blocked; anything else it
        # rejects is bytes that are not a pickle at all.
        if "GLOBAL" in str(exc):
            raise CheckpointError(
                f"{path}: refused to load: it contains Python objects that could run code "
                f"(a metaviz checkpoint holds only tensors and plain values)"
            ) from exc
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt)") from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, zipfile errors, ...
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a metaviz checkpoint")
    version = payload.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{path}: written in checkpoint format version {version!r}; this metaviz reads version {VERSION}"
        )
    try:
        config = TrainConfig.from_dict(payload.get("config"))
    except ValueError as exc:
        raise CheckpointError(f"{path}: invalid settings in checkpoint: {exc}") from exc
    if payload.get("kind") != config.learner:
        raise CheckpointError(f"{path}: learner kind {payload.get('kind')!r} does not match its settings")
    for key in ("learner", "trainer"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint has no {key} state")
    payload["config"] = config
    return payload


def load_trainer(path: str | os.PathLike, kind: str | None = None) -> Trainer:
    """A trainer (learner, RNG stream, history) restored from ``path``, ready to resume.

    ``kind`` rejects a checkpoint of another learner kind with a clear message.
    """
    payload = read_checkpoint(path)
    config: TrainConfig = payload["config"]
    if kind is not None and config.learner != kind:
        raise CheckpointError(f"{path}: holds a {config.learner} learner, expected {kind}")
    learner = _build(path, config, payload.get("plugins"))
    trainer = Trainer(learner)
    try:
        learner.load_state_dict(payload["learner"])
        trainer.load_state_dict(payload["trainer"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    return trainer


def load_learner(path: str | os.PathLike, kind: str | None = None) -> Learner:
    """A ready learner from a checkpoint (see :func:`load_trainer`)."""
    return load_trainer(path, kind).learner


def _build(path: Path, config: TrainConfig, plugins: Any):
    """A fresh learner for ``config``, or one line naming what is missing. The plugin
    files a checkpoint names are never imported from it: a checkpoint from elsewhere
    must not run code (weights_only), so the user loads the plugin explicitly."""
    try:
        return make_learner(config)
    except UnknownNameError as exc:
        files = [p for p in plugins if isinstance(p, str)] if isinstance(plugins, list) else []
        hint = f": it was saved with {', '.join(files)}; pass --plugin FILE (or METAVIZ_PLUGINS)" if files else \
            ": load its plugin with --plugin FILE (or METAVIZ_PLUGINS)"
        raise CheckpointError(f"{path}: holds a {config.learner!r} learner on the {config.task.family!r} family, "
                              f"unknown here ({exc.args[0].split(';')[0]}){hint}") from None
