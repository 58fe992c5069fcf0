"""metaviz: see meta-learning happen on few-shot regression tasks.

The public API: :func:`load_learner` (a ready learner from a checkpoint, loading the
plugins it was saved with when they are present) and the learner's
``adapt_trajectory(x_support, y_support, x_query, steps, lr=None)``.
"""

__version__ = "0.2.0"


def load_learner(path, kind=None):
    """A ready learner from a checkpoint file (lazy import keeps ``import metaviz`` light)."""
    from .checkpoint import load_learner as _load

    return _load(path, kind)
