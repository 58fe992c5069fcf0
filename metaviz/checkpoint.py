"""Checkpoints: atomic save, safe load (``weights_only=True``), clear errors.

A checkpoint holds only tensors and plain values: the format tag and version, the
learner kind, its settings as a dict, its parameters and optimiser state, and the
trainer's RNG stream and history, so training resumes exactly where it stopped.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .learners.base import Learner, make_learner
from .training import Trainer

FORMAT = "metaviz-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint could not be written or read; the message says why, for a person."""


def save_checkpoint(path: str | os.PathLike, trainer: Trainer) -> Path:
    """Write ``trainer`` (and its learner) to ``path`` atomically: a temporary file in
    the same folder, then a rename, so a crash never leaves half a checkpoint."""
    path = Path(path)
    learner = trainer.learner
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": learner.kind,
        "config": learner.config.to_dict(),
        "learner": learner.state_dict(),
        "trainer": trainer.state_dict(),
    }
    if not path.parent.is_dir():
        raise CheckpointError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    learner = make_learner(config)
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
