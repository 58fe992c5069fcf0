"""Thread-safe requests to a running job: stop, pause, resume, step once (and, for
training, the rates). The job's driver consults it between units, never inside one."""

from __future__ import annotations

import threading


class JobControl:
    """Stop, pause, resume and single steps, guarded by one condition variable."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._single_steps = 0

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step_once(self) -> None:
        """While paused, allow exactly one more unit."""
        with self._cond:
            self._single_steps += 1
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def stopped(self) -> bool:
        with self._cond:
            return self._stop

    def wait_for_turn(self) -> bool:
        """Block while paused (and no single step is granted); False once stop is requested."""
        with self._cond:
            while self._paused and not self._stop and self._single_steps == 0:
                self._cond.wait()
            if self._stop:
                return False
            if self._paused:
                self._single_steps -= 1
            return True


class TrainControl(JobControl):
    """Also the base rates and the budget of a training run (the meta lr is then
    scheduled); the loop reads a consistent copy before each meta-step, so sliders
    apply live and the GUI thread never writes what the worker reads."""

    def __init__(self, inner_lr: float, meta_lr: float, budget: int | None = None) -> None:
        super().__init__()
        self._rates = (float(inner_lr), float(meta_lr))
        self._budget = budget

    def set_budget(self, budget: int | None) -> None:
        """The iteration to train to (None: the trainer's own)."""
        with self._cond:
            self._budget = None if budget is None else int(budget)

    def budget(self) -> int | None:
        with self._cond:
            return self._budget

    def set_rates(self, inner_lr: float | None = None, meta_lr: float | None = None) -> None:
        with self._cond:
            inner, meta = self._rates
            self._rates = (inner if inner_lr is None else float(inner_lr),
                           meta if meta_lr is None else float(meta_lr))

    def rates(self) -> tuple[float, float]:
        with self._cond:
            return self._rates
