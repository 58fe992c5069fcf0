"""The learners of this session, by name: the one being trained and every other one
trained or loaded so far. Qt-free; the explorer model owns it, the window's list
panel, compare and evaluate read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .jobs.training import Trainer
from .learners import learner_spec


@dataclass
class Entry:
    """A named trainer (its learner, RNG stream and history)."""

    name: str
    trainer: Trainer

    @property
    def kind(self) -> str:
        return self.trainer.learner.kind

    @property
    def iterations(self) -> int:
        return self.trainer.learner.iteration


class LearnerLibrary:
    """Ordered, uniquely named entries. Names are what the user sees and edits."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def __contains__(self, name: str) -> bool:
        return any(entry.name == name for entry in self.entries)

    def get(self, name: str) -> Entry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def unique_name(self, base: str) -> str:
        """``base``, or ``base 2``, ``base 3``... whichever is free."""
        name, n = base, 1
        while name in self:
            n += 1
            name = f"{base} {n}"
        return name

    def add(self, trainer: Trainer, name: str | None = None) -> Entry:
        entry = Entry(self.unique_name(name or learner_spec(trainer.learner.kind).label), trainer)
        self.entries.append(entry)
        return entry

    def rename(self, old: str, new: str) -> Entry:
        new = new.strip()
        if not new:
            raise ValueError("a name cannot be empty")
        entry = self.get(old)
        if new != old and new in self:
            raise ValueError(f"another learner is already called {new!r}")
        entry.name = new
        return entry

    def drop(self, name: str) -> None:
        self.entries.remove(self.get(name))

    def latest_of_kind(self, kind: str) -> Entry | None:
        for entry in reversed(self.entries):
            if entry.kind == kind:
                return entry
        return None

    def trained(self) -> list[Entry]:
        """The entries worth comparing: trained for at least one iteration."""
        return [entry for entry in self.entries if entry.iterations > 0]
