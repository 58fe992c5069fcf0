"""A family's oracle, as something the evaluation and the window treat as a learner, and
what to call it.

:class:`OracleLearner` wraps a family's :meth:`~metaviz.tasks.TaskFamily.oracle` (the
Gaussian-process posterior, least squares on the sinusoids' own form) in the part of
the learner contract that scoring and drawing read: ``kind``, ``label``, ``iteration``,
``family``, :meth:`adapt_trajectory` (the oracle's answer at every step: it does not
learn by steps) and, where the oracle has a spread, ``has_predictive``/:meth:`predictive`.
It has no parameters and is never trained or saved, so
``evaluation_job(OracleLearner(family), ...)`` gives the oracle's row with the evaluation
code unchanged.

An oracle is called the best possible answer only where its family declares it exact for
the number of points and the label noise (:func:`oracle_name`): the sinusoids' least
squares is, from two noise-free points on; under label noise it is a fit, not the best.
"""

from __future__ import annotations

import torch

from .config import TaskConfig
from .tasks import FAMILY_REGISTRY, TaskFamily

BEST_POSSIBLE = "best possible"


def oracle_families() -> list[str]:
    """The names of the families with an oracle."""
    return [cls.name for cls in FAMILY_REGISTRY.items() if cls.has_oracle()]


def oracle_name(family: TaskFamily | type[TaskFamily], shots: int, noise_std: float) -> str:
    """What the oracle's answer from ``shots`` points with label noise ``noise_std`` is, in
    a few words: :data:`BEST_POSSIBLE` where the family declares it exact, else what it
    computes (the family's ``oracle_method``, e.g. "least squares")."""
    return BEST_POSSIBLE if family.oracle_exact(shots, noise_std) else family.oracle_method


class OracleLearner:
    """Duck-typed like :class:`~metaviz.learners.Learner` for evaluation and plotting."""

    kind = "oracle"
    label = "oracle"  # not "best possible": that depends on K and the noise (see oracle_name)
    iteration = 0

    def __init__(self, family: TaskFamily) -> None:
        if not family.has_oracle():
            raise ValueError(f"the {family.name} family has no exact oracle "
                             f"(families with one: {', '.join(oracle_families())})")
        self.family = family
        self.has_predictive = family.oracle_has_std

    @property
    def task(self) -> TaskConfig:
        """The settings of the family the oracle answers for (every range written out)."""
        return self.family.config

    def predictive(self, x_support: torch.Tensor, y_support: torch.Tensor,
                   x_query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std [T, Q, 1] (the std includes the label noise); only with ``has_predictive``."""
        if not self.has_predictive:
            raise NotImplementedError(f"the {self.family.name} oracle gives no spread")
        return self.family.oracle(x_support, y_support, x_query)

    def adapt_trajectory(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
                         steps: int, lr: float | None = None) -> torch.Tensor:
        """The oracle's mean [steps + 1, T, Q, 1], the same at every step (``lr`` is unused)."""
        mean, _ = self.family.oracle(x_support, y_support, x_query)
        return mean.unsqueeze(0).expand(steps + 1, *mean.shape)
