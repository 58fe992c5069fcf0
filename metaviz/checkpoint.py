"""Checkpoints: atomic save, safe load (``weights_only=True``), clear errors.

A checkpoint holds only tensors and plain values: the format tag and version, the
learner kind, its settings as a dict, its parameters and optimiser state, and the
trainer's RNG stream and history, so training resumes exactly where it stopped.

A checkpoint from elsewhere is untrusted. Before torch reads it, the file is looked
at (:func:`_inspect`): only a zip archive of uncompressed records that fit in the file
is handed to torch (torch allocates every record's declared size first, so a 1 KB
file declaring a compressed or oversized record could demand gigabytes), and a pickle
that names code (``os.system``, ``eval``...) is refused with that reason, without
being unpickled at all. torch's own weights-only unpickler stays the guard of last
resort. After loading, every field is checked before use (:mod:`metaviz.stored`).
"""

from __future__ import annotations

import os
import pickle
import pickletools
import warnings
import zipfile
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
    """A checkpoint could not be written or read; the message says why, for a person.

    One line of sensible length: a hostile file's values (a name of a million
    characters, say) are quoted in messages, so a long message keeps its two ends."""

    def __init__(self, message: str) -> None:
        message = str(message).replace("\r", " ").replace("\n", " ")
        if len(message) > 600:
            message = f"{message[:400]} [...] {message[-150:]}"
        super().__init__(message)


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
    _inspect(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": our message says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # The weights-only unpickler names the global it blocked (one _inspect did not
        # see, e.g. behind a memo): the file holds code.
        if "global" in str(exc).lower():
            raise CheckpointError(_holds_code(path, None)) from None
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt)") from None
    except MemoryError:
        raise CheckpointError(f"{path}: too large to load into memory") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, zipfile errors, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt: {reason})") from None
    try:
        return _validated(path, payload)
    except RecursionError:  # e.g. settings nested a million lists deep
        raise CheckpointError(f"{path}: not a metaviz checkpoint (values nested too deeply)") from None


def _validated(path: Path, payload: Any) -> dict[str, Any]:
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
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "values nested too deeply"
        raise CheckpointError(f"{path}: {reason}") from None
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


# Globals a torch checkpoint names that are data, not code (torch's weights-only
# unpickler decides what loads; this only decides what a refusal says).
_DATA_GLOBALS = ("torch.", "collections.OrderedDict", "_codecs.encode")
_SCANNED_BYTES = 64 * 2**20


def _names_in_pickle(data: bytes) -> list[str]:
    """The globals (``module.name``) a pickle would import, read from its opcodes
    without running any. Stops quietly at bytes that are not a pickle."""
    names: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                names.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(".".join(strings[-2:]))
            elif isinstance(arg, str):
                strings = [*strings[-1:], arg]
            if opcode.name == "STOP":
                break
    except Exception:  # garbage or truncation: the names seen so far stand
        pass
    return names


def _holds_code(path: Path, name: str | None) -> str:
    calls = f" (loading it would call {name})" if name else ""
    return (f"{path}: the file holds code that could run{calls}, so it was not loaded: "
            f"a metaviz checkpoint holds only tensors and plain values")


def _refuse_code(path: Path, pickled: bytes) -> None:
    for name in _names_in_pickle(pickled):
        if not name.startswith(_DATA_GLOBALS):
            raise CheckpointError(_holds_code(path, name))


def _inspect(path: Path) -> None:
    """Refuse what must not reach torch.load: code, non-zip files (metaviz writes only
    zip checkpoints; torch's older format allocates every declared storage before
    reading it), compressed records and records larger than the file itself."""
    size = path.stat().st_size
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        with open(path, "rb") as handle:
            _refuse_code(path, handle.read(_SCANNED_BYTES))  # e.g. a bare pickle of os.system
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt)") from None
    with archive:
        records = archive.infolist()
        for info in records:
            if info.compress_type != zipfile.ZIP_STORED:
                raise CheckpointError(f"{path}: not a metaviz checkpoint (record {info.filename!r} is compressed; "
                                      f"metaviz writes none)")
            if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
                raise CheckpointError(f"{path}: not a readable checkpoint (record {info.filename!r} declares "
                                      f"{info.file_size:,} bytes that the file does not hold)")
        pickles = [info for info in records if info.filename.endswith("data.pkl")]
        if not pickles:
            raise CheckpointError(f"{path}: not a metaviz checkpoint (no data.pkl record)")
        for info in pickles:
            try:
                pickled = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt: {exc})") from None
            _refuse_code(path, pickled)
