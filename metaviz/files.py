"""Every file metaviz writes goes through :func:`write_atomic`.

The data goes to a temporary file beside the target, is flushed to disk, then renamed
over the target: a crash, a full disk or a kill leaves the old file or the new one,
never half of one. A symlink is written through (its target is replaced, the link
stays); anything else that is not a regular file (a folder, a device such as
/dev/null, a pipe) is refused. New files get the usual permissions (0666 less the
umask), not mkstemp's 0600.

The temporary file is named ``.TARGET.HOST-PID.RANDOM.tmp`` (HOST: a hash of the host
name). A process killed mid-write (SIGKILL, power loss) cannot remove its own, so the
next write of the same target removes those of processes that no longer run on this
host; nothing else is ever removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

# Which machine wrote a temporary file: a pid means nothing on another host sharing the folder.
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
# After ".TARGET.": mkstemp draws its random part from [a-z0-9_].
_TEMP_TAIL = r"(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)\.[a-z0-9_]+\.tmp"


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


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts until reaped)."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, under another user
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files that writes of ``target`` by processes no longer
    running on this host left beside it (killed mid-write); returns those removed.
    Only names of :func:`write_atomic`'s own pattern for this very target are touched."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return []
    removed = []
    prefix = f".{target.name}."
    pattern = re.compile(re.escape(prefix) + _TEMP_TAIL)
    try:
        entries = [e for e in os.scandir(target.parent) if e.name.startswith(prefix)]
    except OSError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if (match is None or match["host"] != _HOST
                or int(match["pid"]) == os.getpid() or _running(int(match["pid"]))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass  # another writer removed it first, or the folder changed: harmless
    return removed


class _RecordingHandle:
    """The binary handle a writer function gets: the file itself, remembering the first
    OSError a write or flush raised. torch.save turns that error into a RuntimeError
    that no longer says why ("unexpected pos 704 vs 598" on a full disk)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._handle.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def write_atomic(path: str | os.PathLike, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, text as UTF-8, or a function writing to a binary handle)
    to ``path`` atomically; returns the path written. Raises :class:`WriteError`."""
    target = resolve_target(path)
    remove_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{_HOST}-{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    recording = None
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                recording = _RecordingHandle(handle)
                data(recording)
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
        if isinstance(exc, RuntimeError) and recording is not None and recording.error is not None:
            # torch.save met a failing write (a full disk): say what the disk said.
            cause = recording.error
            raise WriteError(f"cannot write {path}: {cause.strerror or cause}") from exc
        if isinstance(exc, RuntimeError) and "write" in str(exc).lower():  # torch.save on a full disk
            raise WriteError(f"cannot write {path}: {exc}") from exc
        raise
    return Path(path)
