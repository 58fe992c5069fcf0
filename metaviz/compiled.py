"""The compiled meta-step (opt-in, ``train --compile``): MAML's hand-derived meta-gradient
(:func:`.learners.maml_grad.flat_meta_gradient`) compiled ahead of time by AOTInductor.

How it never makes a run slower (measured, README Speed):

- compiling happens in a *separate process* (``python -m metaviz.compiled``) that runs
  only on otherwise idle CPU time (SCHED_IDLE), while the run trains with the eager
  hand-derived step: no GIL is shared (``torch.compile`` in a background thread slowed
  a default run from 15 s to 37 s on a busy 2-core machine, and had not finished), and
  a run that ends first loses nothing: the builder finishes and leaves the result for
  the next run (one builder at a time per cache folder);
- the result is a package in the user's cache folder (``$XDG_CACHE_HOME/metaviz``),
  keyed by everything it was specialised to (shapes, steps, order, dtype, device,
  torch version, CPU instruction set, this code); loading one is a ``dlopen`` (ms), so
  every later run with the same settings uses it from its first step;
- this process never imports ``torch._dynamo`` or inductor (~80-150 MB): the package is
  run through torch's C++ loader.

A package is specialised to fixed shapes: the learner uses it only for batches of the
shapes it was built for, and the eager step for any other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from .files import write_atomic
from .learners import maml_grad

MODEL = "model"  # the name inside a package


def compiler_problem() -> str | None:
    """None when this machine can compile the CPU step, else the one line to tell the user."""
    named = os.environ.get("CXX")
    if any(shutil.which(name) for name in ([named] if named else ["g++", "c++", "clang++"])):
        return None
    return "no C++ compiler found (g++, clang++ or $CXX): the meta-step runs eagerly, uncompiled"


def cache_folder() -> Path:
    """``$XDG_CACHE_HOME/metaviz/compiled`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "metaviz" / "compiled"


@dataclasses.dataclass(frozen=True)
class StepSpec:
    """What a compiled meta-gradient is specialised to."""

    shapes: tuple[tuple[int, ...], ...]  # the meta-parameters, in order
    tasks: int
    shots: int
    query: int
    steps: int
    first_order: bool
    dtype: str  # e.g. "float32"
    device: str  # "cpu" or "cuda"

    @classmethod
    def from_json(cls, text: str) -> StepSpec:
        data = json.loads(text)
        data["shapes"] = tuple(tuple(s) for s in data["shapes"])
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def path(self) -> Path:
        """The package's file: a hash of the spec, torch, the CPU and the code it compiles."""
        code = Path(maml_grad.__file__).read_text() + Path(__file__).read_text()
        cpu = torch.backends.cpu.get_cpu_capability()
        key = "|".join((self.to_json(), torch.__version__, platform.machine(), cpu, code))
        return cache_folder() / f"maml-{hashlib.sha256(key.encode()).hexdigest()[:24]}.pt2"

    def example(self) -> list[torch.Tensor]:
        """Inputs of the compiled function: flat parameters, x/y support, x/y query, rate."""
        options = {"dtype": getattr(torch, self.dtype), "device": self.device}
        size = sum(torch.Size(s).numel() for s in self.shapes)
        return [torch.zeros(size, **options), torch.zeros(self.tasks, self.shots, 1, **options),
                torch.zeros(self.tasks, self.shots, 1, **options), torch.zeros(self.tasks, self.query, 1, **options),
                torch.zeros(self.tasks, self.query, 1, **options), torch.tensor(0.01, **options)]


def build(spec: StepSpec, path: Path) -> None:
    """Export and compile the meta-gradient for ``spec`` into the package ``path`` (this
    imports torch.export and inductor: run it in the builder process)."""
    import torch._inductor

    torch.set_num_threads(1)  # the kernels a one-thread training run will call

    class Step(torch.nn.Module):
        def forward(self, flat, x_support, y_support, x_query, y_query, rate):
            return maml_grad.flat_meta_gradient(flat, spec.shapes, x_support, y_support, x_query, y_query, rate,
                                                spec.steps, spec.first_order)

    with torch.no_grad():
        program = torch.export.export(Step(), tuple(spec.example()))
        package = io.BytesIO()
        torch._inductor.aoti_compile_and_package(program, package_path=package)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, package.getvalue())


def load(path: Path) -> Callable[..., list[torch.Tensor]]:
    """The compiled function of a package: (flat, x_s, y_s, x_q, y_q, rate) -> [stats [2], grad [N]]."""
    loader = torch._C._aoti.AOTIModelPackageLoader(str(path), MODEL, False, 1, -1)
    return lambda *tensors: loader.boxed_run(list(tensors))


def _lowest_priority() -> None:
    """In the builder, before it starts: run only on CPU time nothing else wants (Linux's
    SCHED_IDLE), else at the lowest nice level, so that the training run it serves (and
    anything else on the machine) is not slowed by it."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        if hasattr(os, "nice"):
            os.nice(19)


class CompiledStep:
    """A compiled meta-gradient for one :class:`StepSpec`: loaded from the cache at once,
    or built by a background process and loaded at the first :meth:`function` call after
    it has finished. ``error`` holds the one-line reason when building failed."""

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.path = spec.path()
        self.error: str | None = None
        self.first_iteration: int | None = None  # the first meta-step it computed (set by the learner)
        self.from_cache = self.path.exists()
        self._function = None
        self._builder: subprocess.Popen | None = None
        if self.from_cache:
            self._load()
        else:
            self._start_builder()

    def _start_builder(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
        # Its output is not read (a pipe left unread could block it after this run ends):
        # a failure leaves its reason in PATH.error instead.
        self._builder = subprocess.Popen(
            [sys.executable, "-m", "metaviz.compiled", self.spec.to_json(), str(self.path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            preexec_fn=_lowest_priority)

    def _load(self) -> None:
        try:
            self._function = load(self.path)
        except Exception as exc:  # a package this torch cannot load: stay eager, say why
            self.error = f"the compiled step could not be loaded ({type(exc).__name__}): it runs eagerly"

    def _collect(self) -> None:
        """After the builder exited: load its package, or keep the reason it failed."""
        code, self._builder = self._builder.returncode, None
        if code == 0 and self.path.exists():
            self._load()
        else:
            reason = self.path.with_suffix(".error")
            why = reason.read_text(errors="replace").strip() if reason.exists() else f"exit status {code}"
            self.error = f"compiling the meta-step failed ({why}): it runs eagerly"

    def function(self) -> Callable[..., list[torch.Tensor]] | None:
        """The compiled function, or None while it is being built (costs a ``waitpid``)."""
        if self._function is None and self._builder is not None and self._builder.poll() is not None:
            self._collect()
        return self._function

    def wait(self) -> bool:
        """Block until the builder has finished; True when the compiled function is ready.

        Whoever waits wants the package now: the builder leaves idle priority first, or on
        a machine whose cores are all busy it would never run (nor this wait end)."""
        if self._builder is not None:
            try:
                os.sched_setscheduler(self._builder.pid, os.SCHED_OTHER, os.sched_param(0))
            except (AttributeError, OSError):  # not Linux, or already ended: nothing to raise
                pass
            self._builder.wait()
            self._collect()
        return self._function is not None

    def outcome(self) -> str:
        """One line for the end of a run: whether and from when the compiled step was used."""
        if self.error is not None:
            return self.error
        if self.first_iteration is None:
            return "the run ended before the compiled step was built; it is left in the cache for the next run"
        source = "from the cache" if self.from_cache else "built during the run"
        return f"compiled step ({source}) from iteration {self.first_iteration}"


def use_compiled(learner) -> str:
    """Have ``learner`` (MAML, first or second order) use a compiled meta-step as soon as
    one is ready; returns one line saying what happens."""
    from .learners.maml import MAML

    if not isinstance(learner, MAML):
        return f"--compile applies to MAML and first-order MAML: {learner.kind} trains eagerly"
    if learner.engine != "hand":
        return f"--compile applies to the hand-derived meta-gradient: this {learner.kind} network uses autograd"
    if learner.device.type == "cuda":
        # The compiled package segfaulted when loaded for CUDA (torch 2.11, H100): there a
        # CUDA graph of the eager step removes the launch overhead instead.
        return "--compile applies to the CPU: on cuda the meta-step is replayed as a CUDA graph"
    problem = compiler_problem()
    if problem is not None:
        return problem
    learner.compiled = CompiledStep(learner.step_spec())
    if learner.compiled.error is not None:
        return learner.compiled.error
    if learner.compiled.from_cache:
        return f"compiled meta-step loaded from {learner.compiled.path}"
    return (f"compiling the meta-step in a background process (once for these settings; cached in "
            f"{cache_folder()}): training starts eagerly and switches when it is ready")


def _one_builder_at_a_time(folder: Path) -> None:
    """Wait for the cache folder's lock and hold it until this process exits: one compiler
    at a time (each needs ~400 MB), and a package another builder made is not made twice."""
    try:
        import fcntl
    except ImportError:  # not POSIX: builders may overlap, each writing atomically
        return
    descriptor = os.open(folder, os.O_RDONLY)  # left open: the lock lives as long as the process
    fcntl.flock(descriptor, fcntl.LOCK_EX)


def _builder_main(spec_json: str, target: str) -> int:
    """The builder process: build, or leave the one-line reason beside the package."""
    path = Path(target)
    _one_builder_at_a_time(path.parent)
    if path.exists():  # built by the builder this one waited for
        return 0
    path.with_suffix(".error").unlink(missing_ok=True)  # an earlier failure's reason is not this one's
    try:
        build(StepSpec.from_json(spec_json), path)
    except Exception as exc:
        message = str(exc).strip().splitlines()
        write_atomic(path.with_suffix(".error"), f"{type(exc).__name__}: {message[0] if message else ''}\n")
        return 1
    return 0


if __name__ == "__main__":  # python -m metaviz.compiled SPEC_JSON PATH
    sys.exit(_builder_main(sys.argv[1], sys.argv[2]))
