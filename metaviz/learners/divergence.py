"""When a meta-step has diverged, and how to say so: the rule the learners' meta-step
and the evaluation's count of diverged tasks share."""

from __future__ import annotations

import math
from collections.abc import Callable

# A loss this many times above the loss of predicting zero (and above the loss before
# adaptation, and the first loss of the run) is a blow-up, not slow learning. The same
# rule counts diverged tasks in evaluation.
DIVERGENCE_FACTOR = 100.0


class DivergedError(RuntimeError):
    """A meta-step met a non-finite or blown-up loss, or a non-finite gradient or parameter.

    The learner is left at ``kept_iteration``: the last parameters whose loss was sane,
    so training can resume after lowering a rate.
    """

    def __init__(self, iteration: int, what: str, inner_lr: float, meta_lr: float, kept_iteration: int) -> None:
        self.iteration = iteration
        self.inner_lr = inner_lr
        self.meta_lr = meta_lr
        self.kept_iteration = kept_iteration
        super().__init__(
            f"Training diverged at iteration {iteration}: {what}. "
            f"The parameters of iteration {kept_iteration}, the last with a sane loss, were kept. "
            f"To go on, lower a rate (inner lr {inner_lr:g}, meta lr {meta_lr:g}) and resume."
        )


def sane(loss: float, scale: float, zero: Callable[[], float]) -> bool:
    """Finite and at most DIVERGENCE_FACTOR times max(scale, zero()). ``zero()`` (the loss
    of predicting zero, a reduction over the batch) is asked only when ``scale`` alone
    does not vouch for the loss: on a sane step it costs nothing (~2% of a MAML step)."""
    return math.isfinite(loss) and (loss <= DIVERGENCE_FACTOR * scale or loss <= DIVERGENCE_FACTOR * zero())


def blow_up(measured: str, loss: float, references: dict[str, float | None]) -> str:
    """What went wrong, naming the reference a finite ``loss`` was judged against: the
    largest of ``references`` (name -> value; None: not known yet), with its value."""
    if not math.isfinite(loss):
        return f"{measured} became {loss}"
    name, scale = max(((n, v) for n, v in references.items() if v is not None), key=lambda item: item[1])
    return f"{measured} reached {loss:.3g}, more than {DIVERGENCE_FACTOR:g} times {name} ({scale:.3g})"
