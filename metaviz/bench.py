"""``python main.py bench``: meta-iterations per second of the batched MAML step against the
per-task reference loop (:mod:`metaviz.reference`), interleaved in one run, one thread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from .learners import default_config, make_learner
from .reference import build_module, maml_loss_loop, module_params_from_flat
from .streams import make_generator


def _rate(step: Callable[[], None], seconds: float) -> float:
    """Meta-iterations per second of ``step`` over about ``seconds`` (after warm-up)."""
    for _ in range(5):
        step()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        count += 1
    return count / (time.perf_counter() - started)


def _steppers(inner_steps: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """(batched, loop) meta-steps on the same batch: ours as shipped (fused Adam), the loop
    with torch's default Adam, as the libraries it stands for use it."""
    config = default_config("maml", inner_steps=inner_steps)
    learner = make_learner(config)
    batch = learner.sample_batch(make_generator(1))

    def batched() -> None:
        learner.meta_train_step(batch)

    module = build_module(config.hidden)
    flat = [p.detach().clone().requires_grad_() for p in learner.params]
    optimizer = torch.optim.Adam(flat, lr=config.meta_lr)

    def loop() -> None:
        optimizer.zero_grad()
        loss = maml_loss_loop(module, module_params_from_flat(module, flat), batch.x_support, batch.y_support,
                              batch.x_query, batch.y_query, config.inner_lr, inner_steps)
        loss.backward()
        optimizer.step()

    return batched, loop


def run_bench(seconds: float = 3.0, rounds: int = 3) -> int:
    """Print both rates and their ratio for 1 and 5 inner steps (median over ``rounds``)."""
    torch.set_num_threads(1)
    print(f"meta-batch 25, K=10, second order, 1 thread, {rounds} interleaved rounds of {seconds:g}s")
    print(f"{'inner steps':>11}  {'batched it/s':>12}  {'per-task loop it/s':>18}  {'ratio':>6}")
    for inner_steps in (1, 5):
        batched, loop = _steppers(inner_steps)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(_rate(batched, seconds))
            theirs.append(_rate(loop, seconds))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{inner_steps:>11}  {a:>12.0f}  {b:>18.1f}  {a / b:>5.1f}x")
    return 0
