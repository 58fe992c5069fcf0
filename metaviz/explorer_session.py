"""The explorer's learners: which entry of the session is active, and learners coming
(switch, use, load, restore) and going (drop, forget), without losing anything trained:
leaving a running learner asks first, and a trained entry is never replaced silently.

A part of :class:`~metaviz.explorer.Explorer` (it uses the explorer's ``library``,
``active``, ``config``, ``confirm``, ``stop`` and ``_activate``); Qt-free.
"""

from __future__ import annotations

import dataclasses

from .config import TrainConfig
from .jobs.training import Trainer
from .learners import default_config, learner_spec, make_learner
from .session import Entry


def caption_text(name: str, config: TrainConfig, iteration: int, adapt_steps: int, adapt_lr: float) -> str:
    """``name``'s learner, ``iteration``, the settings it reads and what the plot shows."""
    spec = learner_spec(config.learner)
    who = spec.label if name == spec.label else f"{name} ({spec.label})"
    settings = [f"K={config.shots}", f"meta lr \u03b2={config.meta_lr:g}", f"meta-batch {config.meta_batch}"]
    if "inner_lr" in spec.uses:
        settings.insert(1, f"inner lr \u03b1={config.inner_lr:g}")
    if "inner_steps" in spec.uses:
        settings.append(f"inner steps {config.inner_steps}")
    if "pool_size" in spec.uses:
        settings.append(f"task pool {config.pool_size}")
    settings.append(f"seed {config.seed}")
    shown = f"plotted after {adapt_steps} step{'s' if adapt_steps != 1 else ''}"
    if "adapt_lr" in spec.uses and adapt_steps:
        shown += f" at lr {adapt_lr:g}"
    return f"{who}, {iteration:,} meta-iterations; {', '.join(settings)}; {config.task.family} tasks; {shown}"


class SessionOfLearners:
    """Methods of :class:`~metaviz.explorer.Explorer` about the session's entries."""

    def caption(self) -> str:
        """One line for an exported image: the learner, its iterations, the settings that made it."""
        return caption_text(self.active.name, self.config, self.iteration, self.adapt_steps, self.adapt_lr)

    def load_config(self, config: TrainConfig) -> bool:
        """Settings from a file: a fresh model with ``config`` as a new entry, so a trained or
        loaded one is never replaced under its name (an untrained one holds nothing: it goes).
        Returns False when the user kept the run going."""
        if not self._may_stop("load these settings"):
            return False
        self.stop()
        self._leave_untrained()
        self._activate(self.library.add(Trainer(make_learner(config))))
        return True

    def switch_learner(self, kind: str) -> bool:
        """Come back to the latest entry of ``kind``, or start one; nothing is discarded
        (an untrained entry holds nothing worth keeping and is dropped). Asks before
        stopping a run; returns False when the user kept it going."""
        if kind == self.config.learner:
            return True
        if not self._may_stop(f"switch to {learner_spec(kind).label}"):
            return False
        self.stop()
        self._leave_untrained()
        entry = self.library.latest_of_kind(kind)
        if entry is None:
            kept = {k: getattr(self.config, k) for k in ("seed", "shots", "eval_every", "eval_tasks")}
            # The inner rate carries over only between learners that share its default: CAVIA's
            # is 1.0 (it steps a context, not weights), MAML's 0.01; carrying one into the other
            # makes a learner that cannot train (or diverges at once).
            if default_config(kind).inner_lr == default_config(self.config.learner).inner_lr:
                kept["inner_lr"] = self.config.inner_lr
            # Same family and ranges as now: compare and evaluate then see the same tasks.
            config = dataclasses.replace(default_config(kind, **kept), task=self.config.task)
            entry = self.library.add(Trainer(make_learner(config)))
        self._activate(entry)
        return True

    # --- the session's learners ----------------------------------------------------------
    def use(self, name: str) -> bool:
        """Make ``name`` the entry trained and drawn. A running one is stopped (and kept)
        after asking; returns False when the user kept it going."""
        entry = self.library.get(name)
        if entry is self.active:
            return True
        if not self._may_stop(f"use {name!r}"):
            return False
        self.stop()
        self._leave_untrained()
        self._activate(entry)
        return True

    def adopt(self, trainer: Trainer, name: str | None = None) -> Entry | None:
        """A loaded learner joins the session and becomes the active one (None when the
        user kept the current run going)."""
        if not self._may_stop("show the loaded learner"):
            return None
        self.stop()
        self._leave_untrained()
        entry = self.library.add(trainer, name)
        self._activate(entry)
        return entry

    def restore(self, entries: list[tuple[str, Trainer]], active: str | None = None) -> list[Entry]:
        """Learners kept from an earlier session join this one under their names (made
        unique if taken). If the active entry holds nothing (a launch), the one stored as
        ``active`` takes its place."""
        spare = self.active if self.active.iterations == 0 and not self.running else None
        if spare is not None:  # out of the way while the stored names are given out
            self.library.entries.remove(spare)
        added = [(name, self.library.add(trainer, name)) for name, trainer in entries]
        chosen = next((entry for name, entry in added if name == active), None)
        if spare is not None and chosen is not None:
            self.active = None
            self._activate(chosen)
        else:
            if spare is not None:
                spare.name = self.library.unique_name(spare.name)
                self.library.entries.append(spare)
            self.events.library.emit()
        return [entry for _, entry in added]

    def forget_all(self) -> None:
        """Drop every learner of the session (the caller asked first): a fresh model remains."""
        self.stop()
        self.library.entries.clear()
        self.active = None
        self._activate(self.library.add(Trainer(make_learner(self.config))))

    def _may_stop(self, doing: str) -> bool:
        """Before a run is stopped to do something else: ask (its training so far is kept)."""
        return not self.running or self.confirm(
            f"{self.active.name!r} is training (iteration {self.iteration:,} of {self.trainer.budget:,}). "
            f"Stop it to {doing}? Its training so far is kept.")

    def _leave_untrained(self) -> None:
        """Before another entry becomes active: an untrained active one is dropped."""
        if self.active is not None and self.active.iterations == 0 and not self.running:
            self.library.drop(self.active.name)
            self.active = None

    def add(self, trainer: Trainer, name: str | None = None) -> Entry:
        """Join the session without becoming active."""
        entry = self.library.add(trainer, name)
        self.events.library.emit()
        return entry

    def drop(self, name: str) -> bool:
        entry = self.library.get(name)
        if entry.iterations and not self.confirm(f"Forget {name!r} and its {entry.iterations:,} iterations?"):
            return False
        if entry is self.active:
            self.stop()
            self.library.drop(name)
            self.active = None
            self._activate(self.library.add(Trainer(make_learner(self.config))))
        else:
            self.library.drop(name)
            self.events.library.emit()
        return True

    def rename(self, old: str, new: str) -> None:
        """Raises ValueError (empty or taken name)."""
        try:
            self.library.rename(old, new)
        finally:
            self.events.library.emit()

