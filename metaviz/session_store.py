"""The session's learners kept between launches: one checkpoint per learner and an index,
in a folder the caller chooses (the window passes its data folder; tests a tmp folder).

Qt-free. Layout of the folder::

    session.json          {"format", "version", "token", "active", "entries": [{"name", "file"}, ...]}
    learner-<token>-<i>.pt  one checkpoint per entry (metaviz.checkpoint)
    .lock                 saves and loads hold it (two windows, or two processes, in turn)

Saving is all or nothing: the checkpoints of a save get fresh names, then the index is
replaced atomically (:func:`metaviz.files.write_atomic`), and only then are the files of
the previous save removed. An interrupted save leaves the previous session readable.
Two windows that quit at once save in turn (without the lock, one's clean-up removed
the other's new files before its index named them); whether another window saved
after this store loaded is :meth:`SessionStore.saved_elsewhere`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CheckpointError, load_trainer, save_checkpoint
from .files import WriteError, write_atomic
from .jobs.training import Trainer

FORMAT = "metaviz-session"
VERSION = 1
INDEX = "session.json"
# Our checkpoints and the temporary files write_atomic leaves if killed mid-write.
OWN_FILE = re.compile(r"learner-[0-9a-f]{8}-\d+\.pt|\.learner-[0-9a-f]{8}-\d+\.pt\..*\.tmp|\.session\.json\..*\.tmp")
MAX_ENTRIES = 1000  # a hand-edited index cannot make a launch load without end
LOCK = ".lock"


class StoreError(ValueError):
    """The session could not be saved; the message says why, for a person."""


@dataclass
class StoredSession:
    """What :meth:`SessionStore.load` found: (name, trainer) pairs in order, the name that
    was active, and one line per thing that could not be restored."""

    entries: list[tuple[str, Trainer]] = field(default_factory=list)
    active: str | None = None
    problems: list[str] = field(default_factory=list)


class SessionStore:
    """Saves and restores named trainers in ``folder`` (created on the first save)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self._seen: str | None = None  # the token of the index this store last loaded or wrote

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """Hold the folder's lock (shared to read, exclusive to write) where the system has
        ``flock``; elsewhere saves are not serialised."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        descriptor = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _token_on_disk(self) -> str | None:
        try:
            token = json.loads(self.index.read_text(encoding="utf-8")).get("token")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
            return None
        return token if isinstance(token, str) else None

    def saved_elsewhere(self) -> bool:
        """Whether the saved session is no longer the one this store last loaded or saved:
        another window (or process) saved or forgot it since."""
        return self._token_on_disk() != self._seen

    @property
    def index(self) -> Path:
        return self.folder / INDEX

    def save(self, entries: Sequence[tuple[str, Trainer]], active: str | None = None) -> Path:
        """Keep ``entries`` (name, trainer not being trained) as the saved session, replacing
        the previous one. Raises :class:`StoreError`; the previous session is then intact."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.folder}: {exc.strerror or exc}") from exc
        with self._locked(exclusive=True):
            return self._save(entries, active)

    def _save(self, entries: Sequence[tuple[str, Trainer]], active: str | None) -> Path:
        token = secrets.token_hex(4)
        written: list[Path] = []
        rows = []
        try:
            for i, (name, trainer) in enumerate(entries):
                path = self.folder / f"learner-{token}-{i}.pt"
                save_checkpoint(path, trainer)
                written.append(path)
                rows.append({"name": name, "file": path.name, "kind": trainer.learner.kind,
                             "iterations": trainer.learner.iteration})
            index = {"format": FORMAT, "version": VERSION, "token": token, "active": active, "entries": rows}
            write_atomic(self.index, json.dumps(index, indent=1) + "\n")
        except (CheckpointError, WriteError) as exc:
            for path in written:  # this save's files: the old index does not name them
                path.unlink(missing_ok=True)
            raise StoreError(f"cannot save the session's learners in {self.folder}: {exc}") from exc
        self._remove_unlisted({row["file"] for row in rows})
        self._seen = token
        return self.index

    def load(self) -> StoredSession:
        """The saved session (empty if none). Never raises for bad content: an unreadable
        index or checkpoint is left out and named in ``problems``."""
        found = StoredSession()
        if not self.index.exists():
            self._seen = None
            return found
        with contextlib.ExitStack() as held:
            if self.folder.is_dir():
                held.enter_context(self._locked(exclusive=False))  # not while another saves
            return self._load(found)

    def _load(self, found: StoredSession) -> StoredSession:
        self._seen = self._token_on_disk()
        try:
            index = json.loads(self.index.read_text(encoding="utf-8"))
            if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("version") != VERSION:
                raise ValueError("not a metaviz session index of this version")
            rows = index.get("entries")
            if not isinstance(rows, list) or len(rows) > MAX_ENTRIES:
                raise ValueError("its list of learners is malformed")
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            found.problems.append(f"the saved session in {self.folder} cannot be read ({exc}): it was not restored")
            return found
        for row in rows:
            name, file = (row.get("name"), row.get("file")) if isinstance(row, dict) else (None, None)
            if not (isinstance(name, str) and name.strip() and isinstance(file, str) and OWN_FILE.fullmatch(file)):
                found.problems.append(f"a malformed entry in {self.index} was left out")
                continue
            try:
                found.entries.append((name.strip(), load_trainer(self.folder / file)))
            except CheckpointError as exc:
                found.problems.append(f"the saved learner {name!r} was not restored: {exc}{self._set_aside(file)}")
        active = index.get("active")
        found.active = active if isinstance(active, str) else None
        return found

    def _set_aside(self, file: str) -> str:
        """Move an unreadable checkpoint out of the next save's way (that save removes the
        files it does not list): it may load later, e.g. once its plugin is loaded."""
        source = self.folder / file
        if not source.exists():
            return ""
        target = self.folder / f"unrestored-{file}"
        try:
            source.replace(target)
        except OSError:
            return ""
        return f"; the file is kept as {target} (File \u25b8 Load checkpoint can try it again)"

    def clear(self) -> None:
        """Forget the saved session: the index first (then nothing is restored even if a
        file below cannot be removed), then our checkpoints. Raises :class:`StoreError`."""
        try:
            self.index.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot remove {self.index}: {exc.strerror or exc}") from exc
        self._seen = None
        self._remove_unlisted(set())

    def _remove_unlisted(self, keep: set[str]) -> None:
        """Remove our files (never anything else in the folder) not named in ``keep``."""
        try:
            names = [p.name for p in self.folder.iterdir()]
        except OSError:
            return
        for name in names:
            if name not in keep and OWN_FILE.fullmatch(name):
                try:
                    (self.folder / name).unlink()
                except OSError:
                    pass  # left for the next save to remove; the index no longer names it
