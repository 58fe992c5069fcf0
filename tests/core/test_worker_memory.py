"""Worker processes keep freed memory for reuse (glibc's mallopt): the large tensors an
evaluation allocates and frees again and again then cost no fresh pages each time."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A learner's evaluation, the work whose tensors come and go by the thousand (sizes that
# vary with K and the chunk), and the minor page faults it took.
CHURN = """
import resource, sys, torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from metaviz.jobs.evaluation import evaluate
from metaviz.learners import default_config, make_learner
if {tuned}:
    from metaviz.jobs.runs import _keep_freed_memory
    _keep_freed_memory()
learner = make_learner(default_config("maml"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
evaluate(learner, num_tasks=1000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(tuned: bool) -> int:
    code = CHURN.format(root=str(ROOT), tuned=tuned)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_a_worker_reuses_freed_memory_instead_of_faulting_in_fresh_pages():
    default, kept = _faults(False), _faults(True)
    assert kept < default / 2, (kept, default)
