"""Command line: ``train``, ``evaluate``, ``bench``, ``screenshot``; no argument opens the window.

Bad arguments print one line and exit with status 2; no traceback reaches a user.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from .config import LEARNER_KINDS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _add_range_options(parser: argparse.ArgumentParser) -> None:
    """Evaluation ranges apart from training ones: out-of-distribution probes."""
    group = parser.add_argument_group("evaluation task ranges (default: the training ranges)")
    for name in ("amp", "phase", "x"):
        group.add_argument(f"--{name}-range", nargs=2, type=float, metavar=("LOW", "HIGH"))


def probe_task(args: argparse.Namespace, base):
    """The TaskConfig to evaluate on: ``base`` with any ``--*-range`` applied, or None."""
    changes = {}
    for name in ("amp", "phase", "x"):
        bounds = getattr(args, f"{name}_range", None)
        if bounds is not None:
            changes[f"{name}_min"], changes[f"{name}_max"] = bounds
    return dataclasses.replace(base, **changes) if changes else None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="metaviz", description="See meta-learning on sinusoid regression.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = sub.add_parser("train", help="meta-train a learner headless and save a checkpoint")
    train.add_argument("--learner", choices=LEARNER_KINDS, default="maml")
    train.add_argument("--iterations", type=_positive_int, help="budget (default: the learner's)")
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--inner-lr", type=_rate, help="alpha (default 0.01)")
    train.add_argument("--meta-lr", type=_rate, help="beta, peak of the cosine schedule")
    train.add_argument("--inner-steps", type=_positive_int)
    train.add_argument("--meta-batch", type=_positive_int)
    train.add_argument("--shots", type=_positive_int, help="K support points per task")
    train.add_argument("--out", type=Path, help="checkpoint path (default runs/LEARNER-seedS.pt)")
    train.add_argument("--resume", type=Path, help="continue training from this checkpoint")
    train.add_argument("--threads", type=_positive_int, default=1, help="intra-op torch threads")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="score a checkpoint on the benchmark protocol")
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--shots", type=_positive_int, nargs="+", default=[5, 10, 20])
    evaluate.add_argument("--steps", type=_non_negative_int, default=10)
    evaluate.add_argument("--tasks", type=_positive_int, default=600)
    evaluate.add_argument("--seed", type=_non_negative_int, default=None)
    evaluate.add_argument("--lr", type=_rate, help="test-time rate (default: the learner's, per K)")
    evaluate.add_argument("--json", type=Path, help="curves as JSON (default CHECKPOINT.eval.json)")
    _add_range_options(evaluate)

    reproduce = sub.add_parser("reproduce", help="train MAML, pretrained and multi-task; evaluate; table + figure")
    reproduce.add_argument("--out", type=Path, default=Path("runs/reproduce"))
    reproduce.add_argument("--iterations", type=_positive_int, help="override every default budget")
    reproduce.add_argument("--tasks", type=_positive_int, default=600)
    reproduce.add_argument("--seed", type=_non_negative_int, default=0)
    _add_range_options(reproduce)

    bench = sub.add_parser("bench", help="batched MAML vs a per-task loop, same run")
    bench.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    bench.add_argument("--rounds", type=_positive_int, default=3)

    shot = sub.add_parser("screenshot", help="train briefly in the window and save a PNG of it")
    shot.add_argument("path", type=Path)
    shot.add_argument("--iterations", type=_positive_int, default=2000)
    shot.add_argument("--tour", action="store_true", help="also the Compare and Evaluate tabs (PATH-*.png)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            from .ui.launch import launch

            code = launch()
        elif args.command == "train":
            from .commands import train

            code = train(args)
        elif args.command == "evaluate":
            from .commands import evaluate

            code = evaluate(args)
        elif args.command == "reproduce":
            from .commands import reproduce

            code = reproduce(args)
        elif args.command == "bench":
            from .bench import run_bench

            code = run_bench(seconds=args.seconds, rounds=args.rounds)
        else:
            from .ui.launch import screenshot

            code = screenshot(args.path, args.iterations, args.tour)
    except ValueError as exc:  # invalid settings or files: one clear line
        print(f"metaviz: error: {exc}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # e.g. `evaluate ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
