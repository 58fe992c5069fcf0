"""Small builders shared by the core and UI tests."""

from metaviz.learners import default_config, make_learner
from metaviz.streams import make_generator


def trained_learner(kind, iterations=30):
    """A learner of ``kind`` after a few cheap meta-steps (meta-batch 10, pool of 20)."""
    learner = make_learner(default_config(kind, meta_batch=10, pool_size=20))
    generator = make_generator(0)
    for _ in range(iterations):
        learner.meta_train_step(learner.sample_batch(generator))
    return learner
