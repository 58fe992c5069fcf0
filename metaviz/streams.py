"""Every random stream in metaviz, named once, with its seed offset.

A stream is a ``torch.Generator`` seeded with ``seed + offset`` (``seed`` is the run's
seed, or the evaluation seed for the evaluation streams). Offsets are distinct so no two
streams draw the same numbers; a test checks it. Nothing in metaviz touches torch's
global RNG.

One pair is deliberately equal: the parameter initialisation and the training batches
both use the run's seed as it is. They are separate generators drawing different things
(weights, then tasks), and every published figure in README was measured with them so;
moving one would change every trained model.
"""

from __future__ import annotations

from enum import Enum

import torch


class Stream(Enum):
    """Each member's value is its seed offset."""

    PARAMETER_INIT = 0  # a learner's initial weights (and, for CAVIA-like learners, contexts)
    VALIDATION = 1_000_003  # the held-out tasks scored while training
    MULTITASK_POOL = 7_919  # the multi-task model's fixed pool of training tasks
    WINDOW_TASKS = 15_485_863  # the tasks the window draws for the user to explore
    EVALUATION_SUPPORT = 1  # + K: the evaluation protocol's support points for K shots
    EVALUATION_QUERY_NOISE = 32_452_843  # label noise on the query targets that NLL and coverage score
    WINDOW_FUNCTION_SAMPLES = 49_979_687  # the function samples the window draws from a posterior


# Kept apart from the Enum: Enum members with equal values would be aliases of each other.
TRAINING_BATCHES_OFFSET = 0  # the meta-training batches (see the module docstring)
EVALUATION_SEED = 20_170_703  # the evaluation protocol's own seed (training seeds are small)


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: runs never share RNG state."""
    return torch.Generator().manual_seed(int(seed))


def stream(which: Stream, seed: int, extra: int = 0) -> torch.Generator:
    """The generator of stream ``which`` for ``seed`` (``extra`` distinguishes e.g. K)."""
    return make_generator(seed + which.value + extra)


def training_batches(seed: int) -> torch.Generator:
    return make_generator(seed + TRAINING_BATCHES_OFFSET)
