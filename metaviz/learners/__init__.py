"""The learners, one module each, behind the contract in :mod:`.base`."""

from .base import LEARNERS, DivergedError, Learner, make_learner

__all__ = ["LEARNERS", "DivergedError", "Learner", "make_learner"]
