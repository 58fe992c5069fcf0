"""The explorer's state, without Qt: the session's learners, the active run and its
history, the task history, the test-time adaptation settings, and the run state.

Views take an :class:`Explorer` and listen to its :class:`~metaviz.events.ExplorerEvents`;
the window only assembles them. Long work runs through a :class:`Runner` (the window's
Qt runner, or a test's), which calls back in the owner's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, Protocol

from .adaptation import AdaptationView, OracleView, adapt_view, oracle_view
from .config import TrainConfig
from .devices import check_choice, resolve_device
from .events import ExplorerEvents
from .explorer_session import SessionOfLearners, caption_text  # noqa: F401 (caption_text: part of this API)
from .explorer_tasks import TaskBrowsing
from .jobs.control import JobControl, TrainControl
from .jobs.training import LossHistory, Trainer, TrainingProgress, training_job
from .learners import DivergedError, Learner, learner_spec, make_learner
from .session import Entry, LearnerLibrary
from .task_history import TaskHistory


class RunState(str, Enum):
    IDLE = "idle"
    TRAINING = "training"
    PAUSED = "paused"
    DIVERGED = "diverged"
    DONE = "done"


class Runner(Protocol):
    """Drives one job at a time. ``on_event(event)`` and ``on_end(outcome, error)`` are
    called in the owner's thread; ``outcome`` is "finished", "cancelled" or "failed"."""

    running: bool

    def start(self, job: Iterator, control: JobControl, on_event: Callable[[Any], None],
              on_end: Callable[[str, BaseException | None], None]) -> None: ...

    def stop(self) -> None: ...


# Settings whose change needs a new model (the rest apply live or to the next run).
MODEL_SETTINGS = ("inner_steps", "shots", "meta_batch", "seed", "pool_size", "family")


class Explorer(SessionOfLearners, TaskBrowsing):
    """The model behind the window. ``confirm(question) -> bool`` asks before anything
    trained is thrown away. Which learner is active, and learners coming and going, are
    in :class:`~metaviz.explorer_session.SessionOfLearners`; the task on show in
    :class:`~metaviz.explorer_tasks.TaskBrowsing`."""

    def __init__(self, config: TrainConfig, runner: Runner, confirm: Callable[[str], bool] = lambda q: True,
                 device: str = "auto") -> None:
        check_choice(device)
        #: Where training runs ("auto", "cpu" or "cuda"; learners that run only on the CPU
        #: train there whatever the choice); the display copies stay on the CPU.
        self.device = device
        self.events = ExplorerEvents()
        self.runner = runner
        self.confirm = confirm
        self.library = LearnerLibrary()
        self.state = RunState.IDLE
        self.control: TrainControl | None = None
        self.adapt_steps = 1
        self.adapt_lr = 0.0
        self.active: Entry | None = None
        self._token = 0  # which run a callback belongs to
        self._activate(self.library.add(Trainer(make_learner(config))))
        self.history = TaskHistory(self.trainer.learner.family, self.config.seed)
        self.history.new_random(self.config.shots)

    # --- what views read -------------------------------------------------------------
    @property
    def trainer(self) -> Trainer:
        return self.active.trainer

    @property
    def running(self) -> bool:
        return self.runner.running and self.control is not None

    @property
    def trained(self) -> bool:
        return self.running or bool(self.losses)

    @property
    def iteration(self) -> int:
        return self.snapshot.iteration if self.snapshot else self.trainer.learner.iteration

    @property
    def spec(self):
        return learner_spec(self.config.learner)

    def display_learner(self) -> Learner:
        """The active learner at its latest published parameters, safe to use in this
        thread (a copy: the worker owns the real one while training)."""
        if self._params is not None:
            self.view_learner.load_state_dict({"tensors": self._params})
            self.view_learner.iteration = self.iteration
            self._params = None
        return self.view_learner

    def display_learners(self) -> dict[str, Learner]:
        """Every trained entry by name, for compare and evaluate (the active one as above)."""
        return {entry.name: self.display_learner() if entry is self.active else entry.trainer.learner
                for entry in self.library.trained()}

    def adaptation_view(self, learner: Learner | None = None, samples: int = 0) -> AdaptationView:
        """The current task under ``learner`` (default: the active one), with ``samples``
        function samples where it has a joint posterior."""
        return adapt_view(learner or self.display_learner(), self.history.current, self.adapt_steps, self.adapt_lr,
                          samples)

    def oracle_view(self) -> OracleView | None:
        """The best possible answer from the current support points, where it is known."""
        return oracle_view(self.history.current)

    # --- the run -----------------------------------------------------------------------
    @property
    def training_device(self) -> str:
        """Where the active learner trains (or would train if started): "cpu" or "cuda"."""
        return resolve_device(self.device, self.trainer.learner.devices, fallback=True)

    def start(self) -> None:
        if self.state in (RunState.IDLE, RunState.DONE) and not self.running and not self.trainer.done:
            self._launch(paused=False)

    def pause(self) -> None:
        if self.state is RunState.TRAINING:
            self.control.pause()
            self._set_state(RunState.PAUSED)

    def resume(self) -> None:
        if self.state is RunState.PAUSED and self.running:
            self.control.resume()
            self._set_state(RunState.TRAINING)
        elif self.state in (RunState.PAUSED, RunState.DIVERGED) and not self.trainer.done:
            self._launch(paused=False)

    def step(self) -> None:
        """Exactly one meta-iteration, then paused."""
        if self.trainer.done or self.state is RunState.TRAINING:
            return
        if not self.running:
            self._launch(paused=True)
        self.control.step_once()

    def stop(self) -> None:
        if self.running:
            self.runner.stop()  # joins: the callbacks of this run are ignored from here on
            self._finish("cancelled", None)

    def toggle(self) -> None:
        """Space: start, pause or resume."""
        {RunState.TRAINING: self.pause, RunState.PAUSED: self.resume,
         RunState.DIVERGED: self.resume}.get(self.state, self.start)()

    def reset(self) -> bool:
        """A fresh model with the current settings; asks first if this one was trained."""
        if self.trained and not self.confirm(
                f"Reset discards {self.active.name!r} and its {self.iteration:,} iterations. Continue?"):
            return False
        self._replace_active(Trainer(make_learner(self.config)))
        return True

    def _launch(self, paused: bool) -> None:
        self._token += 1
        token = self._token
        c = self.config
        self.control = TrainControl(c.inner_lr, c.meta_lr, self.trainer.budget)
        learner = self.trainer.learner
        learner.to(resolve_device(self.device, learner.devices, fallback=True))  # no run is going: safe
        if paused:
            self.control.pause()
        self.runner.start(training_job(self.trainer, self.control), self.control,
                          lambda event: self._on_progress(token, event),
                          lambda outcome, error: self._on_end(token, outcome, error))
        self._set_state(RunState.PAUSED if paused else RunState.TRAINING)

    def _on_progress(self, token: int, progress: TrainingProgress) -> None:
        if token != self._token:  # from a run that has since been replaced
            return
        self.losses.extend(progress.losses)
        self.validations.extend(progress.validations)
        self.snapshot = progress.snapshot
        self._params = progress.snapshot.params
        self.events.progress.emit(progress)

    def _on_end(self, token: int, outcome: str, error: BaseException | None) -> None:
        if token == self._token and self.control is not None:
            self._finish(outcome, error)

    def _finish(self, outcome: str, error: BaseException | None) -> None:
        self.control = None
        if isinstance(error, DivergedError):
            # The learner stepped back to its last sane parameters: show those and the
            # trimmed history (the worker has ended, so reading them is safe).
            self._load_history()
            self._params = self.trainer.learner.parameters_snapshot()
            self.snapshot = None
            self.events.model.emit()
            self.events.library.emit()  # the list shows the kept iteration, not the undone one
            self._set_state(RunState.DIVERGED)
            self.events.message.emit("Training diverged", str(error))
            return
        if len(self.losses) != len(self.trainer.losses):
            # A stop joins the worker and drops the progress it had not delivered yet: catch
            # up from the trainer (the worker has ended, so reading it is safe).
            self._load_history()
            self._params = self.trainer.learner.parameters_snapshot()
            self.snapshot = None
            self.events.model.emit()
        if error is not None:
            self.events.message.emit("Training failed", f"{type(error).__name__}: {error}")
        self._set_state(RunState.DONE if self.trainer.done else RunState.IDLE)

    def _set_state(self, state: RunState) -> None:
        self.state = state
        self.events.state.emit(state)

    # --- settings ------------------------------------------------------------------------
    def set_rates(self, inner_lr: float, meta_lr: float) -> None:
        """Live: the next meta-step uses them."""
        self.config = self.config.with_changes(inner_lr=inner_lr, meta_lr=meta_lr)
        if self.control is not None:
            self.control.set_rates(inner_lr, meta_lr)
        self.events.settings.emit()

    def set_budget(self, budget: int) -> None:
        self.config = self.config.with_changes(iterations=budget)
        if self.control is not None:
            self.control.set_budget(budget)  # the worker reads it between steps
        else:
            self.trainer.budget = budget
            if self.state in (RunState.IDLE, RunState.DONE):
                self._set_state(RunState.DONE if self.trainer.done else RunState.IDLE)
        self.events.settings.emit()

    def set_adaptation(self, steps: int | None = None, lr: float | None = None) -> None:
        if steps is not None:
            self.adapt_steps = int(steps)
        if lr is not None:
            self.adapt_lr = float(lr)
        self.events.adaptation.emit()

    def change_setting(self, name: str, value: Any) -> bool:
        """A setting that needs a new model (see MODEL_SETTINGS); asks first if trained.
        Returns False when the user kept the current model."""
        if self.trained and not self.confirm(f"Changing {name.replace('_', ' ')} needs a new model: "
                                             f"the training of {self.active.name!r} is discarded. Continue?"):
            return False
        self.apply_config(self.config.with_changes(**{name: value}))
        return True

    def apply_config(self, config: TrainConfig) -> None:
        """A fresh model with ``config`` in place of the active one."""
        self._replace_active(Trainer(make_learner(config)))

    def _replace_active(self, trainer: Trainer) -> None:
        self.stop()
        self.active.trainer = trainer
        self._activate(self.active, force=True)

    def _activate(self, entry: Entry, force: bool = False) -> None:
        self._token += 1
        old_config = getattr(self, "config", None)
        self.active = entry
        self.config = entry.trainer.learner.config.with_changes(iterations=entry.trainer.budget)
        self.view_learner = make_learner(self.config)
        self._params = self.trainer.learner.parameters_snapshot()  # no run is going: safe to read
        self.snapshot = None
        self._load_history()
        if old_config is None or old_config.learner != self.config.learner or old_config.shots != self.config.shots:
            self.adapt_lr = self.view_learner.default_adapt_lr(self.config.shots)
        if old_config is not None and hasattr(self, "history"):
            if old_config.task != self.config.task:
                self.history = TaskHistory(self.trainer.learner.family, self.config.seed)
                self.history.new_random(self.config.shots)
                self.events.task.emit()
            elif old_config.shots != self.config.shots:
                self.resample()
        self.events.model.emit()
        self.events.library.emit()
        self._set_state(RunState.DONE if self.trainer.done else RunState.IDLE)

    def _load_history(self) -> None:
        """The history as the trainer holds it (no run may be going)."""
        self.losses = LossHistory(self.trainer.losses)
        self.validations = list(self.trainer.validations)
