"""The learners: the contract (:mod:`.base`), the declarations (:mod:`.registry`) and
one module per learner, each listing what it adds in its ``LEARNERS`` tuple."""

from .base import Learner
from .divergence import DivergedError
from .registry import (
    LEARNER_REGISTRY,
    LearnerSpec,
    default_config,
    learner_names,
    learner_spec,
    make_learner,
)

__all__ = ["LEARNER_REGISTRY", "DivergedError", "Learner", "LearnerSpec", "default_config", "learner_names",
           "learner_spec", "make_learner"]
