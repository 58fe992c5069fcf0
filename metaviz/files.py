"""Every file metaviz writes goes through :func:`write_atomic`.

The data goes to a temporary file beside the target, is flushed to disk, then renamed
over the target: a crash, a full disk or a kill leaves the old file or the new one,
never half of one. A symlink is written through (its target is replaced, the link
stays); anything else that is not a regular file (a folder, a device such as
/dev/null, a pipe) is refused. New files get the usual permissions (0666 less the
umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class WriteError(OSError):
    """A file could not be written; the message says why, for a person."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def resolve_target(path: str | os.PathLike) -> Path:
    """The file that writing ``path`` would replace: ``path`` itself, or the file a
    symlink points to. Raises :class:`WriteError` for a target metaviz must not replace."""
    path = Path(path)
    if str(path) in ("", "."):
        raise WriteError("no file name given")
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise WriteError(f"cannot write {path}: it is {kind}")
    parent = target.parent
    if not parent.is_dir():
        if parent.exists() or any(p.exists() and not p.is_dir() for p in parent.parents):
            raise WriteError(f"cannot write {path}: {parent} is not a folder")
        raise WriteError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {path}: folder {parent} is not writable")
    return target


def write_atomic(path: str | os.PathLike, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, text as UTF-8, or a function writing to a binary handle)
    to ``path`` atomically; returns the path written. Raises :class:`WriteError`."""
    target = resolve_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(target.stat().st_mode)  # replacing: keep the file's permissions
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
        if isinstance(exc, RuntimeError) and "write" in str(exc).lower():  # torch.save on a full disk
            raise WriteError(f"cannot write {path}: {exc}") from exc
        raise
    return Path(path)
