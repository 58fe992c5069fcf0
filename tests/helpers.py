"""Small builders shared by the core and UI tests."""

import contextlib
import errno
import os
import subprocess

import pytest

from metaviz.learners import default_config, make_learner
from metaviz.streams import make_generator


def trained_learner(kind, iterations=30):
    """A learner of ``kind`` after a few cheap meta-steps (meta-batch 10, pool of 20)."""
    learner = make_learner(default_config(kind, meta_batch=10, pool_size=20))
    generator = make_generator(0)
    for _ in range(iterations):
        learner.meta_train_step(learner.sample_batch(generator))
    return learner


@contextlib.contextmanager
def small_disk(folder):
    """A 64 KiB tmpfs mounted at ``folder`` (created) for a full-disk test; skips the
    test where mounting is not allowed (not root, a container without the capability)."""
    folder.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill_disk(folder, room=0):
    """Write a filler file until the disk under ``folder`` is full, then give back
    ``room`` bytes (a write then fails part of the way through)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(bytes(4096))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    os.truncate(filler, max(filler.stat().st_size - room, 0))
    with pytest.raises(OSError):
        (folder / "probe").write_bytes(bytes(room + 8192))
    (folder / "probe").unlink(missing_ok=True)
