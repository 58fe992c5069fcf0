"""metaviz: see meta-learning happen on sinusoid regression tasks."""

__version__ = "0.1.0"


def load_learner(path, kind=None):
    """A ready learner from a checkpoint file (lazy import keeps ``import metaviz`` light)."""
    from .checkpoint import load_learner as _load

    return _load(path, kind)
