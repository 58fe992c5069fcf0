"""``python main.py bench``: meta-iterations per second of MAML's meta-step computed four
ways, side by side from one run, interleaved round by round, one thread:

- the per-task loop (:mod:`metaviz.reference`, as learn2learn, higher and torchopt work);
- batched autograd (``create_graph=True`` through the batched network; metaviz's step
  before the hand-derived gradient);
- the hand-derived meta-gradient (:mod:`metaviz.learners.maml_grad`, the default);
- on the CPU, the same compiled with ``torch.compile`` (where a compiler exists);
  on CUDA, the same replayed as a CUDA graph (:mod:`metaviz.learners.maml_graph`).

Every learner step includes Adam and the divergence checks; each way trains its own
copy of the same initial parameters on one fixed batch (second order, K=10, Q=10).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch

from .devices import check_choice
from .learners import default_config, make_learner
from .reference import build_module, maml_loss_loop, module_params_from_flat
from .streams import make_generator

#: (meta-batch, width of both hidden layers) measured on a CUDA device (issue 11).
CUDA_SIZES = ((25, 40), (1000, 40), (25, 512), (1000, 512))
# Every way steps on one fixed batch for thousands of steps: a small meta rate keeps wide
# networks from blowing up on it (the rate does not change the work of a step).
META_LR = 1e-5
LOOP_MAX_TASKS = 100  # beyond this the per-task loop takes seconds per step: not measured
LABELS = {"loop": "per-task loop", "autograd": "batched autograd", "hand": "hand-derived",
          "compiled": "compiled hand-derived", "graph": "hand-derived, CUDA graph"}


def _rate(step: Callable[[], None], seconds: float, device: torch.device) -> float:
    """Meta-iterations per second of ``step`` over about ``seconds`` (after warm-up)."""
    for _ in range(3):
        step()
    count, started = 0, time.perf_counter()
    while count == 0 or time.perf_counter() - started < seconds:
        step()
        count += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return count / (time.perf_counter() - started)


def _learner_step(inner_steps: int, meta_batch: int, width: int, device: torch.device, engine: str,
                  compiled: bool = False, graph: bool = False) -> tuple[Callable[[], None], str | None]:
    """A learner's meta-step on a fixed batch, and a note (compile time or why not compiled)."""
    config = default_config("maml", inner_steps=inner_steps, meta_batch=meta_batch, hidden=(width, width),
                            meta_lr=META_LR)
    learner = make_learner(config).to(device)
    learner.engine = engine
    learner.cuda_graph = graph
    note = None
    if compiled:
        from .compiled import use_compiled

        note = use_compiled(learner)
        if learner.compiled is None:
            return None, note
        started = time.perf_counter()
        if not learner.compiled.wait():
            return None, learner.compiled.error
        note = "loaded from the cache" if learner.compiled.from_cache else \
            f"built in {time.perf_counter() - started:.0f}s by a background process, now cached"
    batch = learner.sample_batch(make_generator(1))
    return (lambda: learner.meta_train_step(batch)), note


def _loop_step(inner_steps: int, meta_batch: int, width: int, device: torch.device) -> Callable[[], None]:
    """The per-task loop on the same initial parameters and batch, with torch's Adam."""
    config = default_config("maml", inner_steps=inner_steps, meta_batch=meta_batch, hidden=(width, width),
                            meta_lr=META_LR)
    learner = make_learner(config).to(device)
    batch = learner.sample_batch(make_generator(1))
    module = build_module(config.hidden).to(device)
    flat = [p.detach().clone().requires_grad_() for p in learner.params]
    optimizer = torch.optim.Adam(flat, lr=config.meta_lr)

    def loop() -> None:
        optimizer.zero_grad()
        loss = maml_loss_loop(module, module_params_from_flat(module, flat), batch.x_support, batch.y_support,
                              batch.x_query, batch.y_query, config.inner_lr, inner_steps)
        loss.backward()
        optimizer.step()

    return loop


def _section(device: torch.device, meta_batch: int, width: int, seconds: float, rounds: int,
             compile_step: bool) -> None:
    print(f"\n{device.type}, meta-batch {meta_batch}, width {width}x{width}, K=10, second order, 1 thread, "
          f"{rounds} interleaved rounds of {seconds:g}s (medians)")
    print(f"{'steps':>5}  {'':<22} {'it/s':>9}  {'vs loop':>8}  {'vs autograd':>11}")
    for inner_steps in (1, 5):
        steps: dict[str, Callable[[], None]] = {}
        notes = []
        if meta_batch <= LOOP_MAX_TASKS:
            steps["loop"] = _loop_step(inner_steps, meta_batch, width, device)
        steps["autograd"], _ = _learner_step(inner_steps, meta_batch, width, device, "autograd")
        steps["hand"], _ = _learner_step(inner_steps, meta_batch, width, device, "hand")
        if device.type == "cuda":
            steps["graph"], _ = _learner_step(inner_steps, meta_batch, width, device, "hand", graph=True)
        elif compile_step:
            step, note = _learner_step(inner_steps, meta_batch, width, device, "hand", compiled=True)
            if step is not None:
                steps["compiled"] = step
            notes.append(f"compiled: {note}")
        rates: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(rounds):
            for name, step in steps.items():
                rates[name].append(_rate(step, seconds, device))
        median = {name: statistics.median(values) for name, values in rates.items()}
        for name, rate in median.items():
            loop = f"{rate / median['loop']:>7.1f}x" if "loop" in median else f"{'-':>8}"
            print(f"{inner_steps:>5}  {LABELS[name]:<22} {rate:>9.1f}  {loop}  {rate / median['autograd']:>10.2f}x")
        for note in notes:
            print(f"{'':>7}({note})")


def run_bench(seconds: float = 3.0, rounds: int = 3, device: str = "auto",
              sizes: Sequence[tuple[int, int]] = ((25, 40),), compile_step: bool = True) -> int:
    """Print every way's rate and its ratios to the loop and to batched autograd, for 1 and
    5 inner steps, for each (meta-batch, width) in ``sizes`` on the CPU, and on CUDA (at
    :data:`CUDA_SIZES`) when ``device`` is "cuda", or "auto" and a CUDA device is present."""
    torch.set_num_threads(1)
    check_choice(device)
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device != "cuda":
        for meta_batch, width in sizes:
            _section(torch.device("cpu"), meta_batch, width, seconds, rounds, compile_step)
    if cuda:
        print(f"\nCUDA device: {torch.cuda.get_device_name()}")
        for meta_batch, width in CUDA_SIZES:
            _section(torch.device("cuda"), meta_batch, width, seconds, rounds, compile_step=False)
    elif device == "auto":
        print("\n(no CUDA device here: CUDA figures are measured where one is present)")
    return 0
