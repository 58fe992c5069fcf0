"""Command line: ``train``, ``evaluate``, ``reproduce``, ``bench``, ``screenshot``;
no subcommand opens the window.

Plugins load first (``--plugin FILE`` anywhere on the line, ``METAVIZ_PLUGINS``, entry
points), so their learners and families are valid choices. Bad arguments print one
line and exit with status 2; no traceback reaches a user.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from .config import LIMITS, MAX_RATE


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # "-1e3" is a number, not an option (argparse's default matcher misses exponents).
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _bounded_int(name: str, minimum: int, maximum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{name} must be between {minimum} and {maximum:,}, got {value:,}")
        return value

    return parse


def _number(minimum: float, maximum: float, what: str = "a number"):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and minimum < value <= maximum):
            raise argparse.ArgumentTypeError(f"expected {what} in ({minimum:g}, {maximum:g}], got {text}")
        return value

    return parse


_rate = _number(0.0, MAX_RATE, "a rate")


def _limit(name: str):
    return _bounded_int(name.replace("_", " "), *LIMITS[name])


def _add_plugin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE", type=Path,
                        help="a Python file declaring LEARNERS and/or FAMILIES (repeatable; also METAVIZ_PLUGINS)")


def _add_task_options(parser: argparse.ArgumentParser, families: list[str], range_names: list[str],
                      what: str) -> None:
    group = parser.add_argument_group(f"tasks ({what})")
    group.add_argument("--family", choices=families, help="task family (default: " +
                       ("the checkpoint's)" if what.startswith("evaluation") else "sinusoid)"))
    for name in range_names:
        group.add_argument(f"--{name}-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                           help=f"range of {name} (default: the family's)")
    group.add_argument("--noise", type=_number(-1e-300, 1e4, "a standard deviation >= 0"), metavar="STD",
                       help="label noise std (default: none)")


def build_parser() -> argparse.ArgumentParser:
    """The full parser; learner and family choices come from the registries (call after
    plugins are loaded)."""
    from .learners import learner_names, learner_spec
    from .tasks import FAMILY_REGISTRY

    families = FAMILY_REGISTRY.names()
    range_names = list(dict.fromkeys(["x"] + [p.name for cls in FAMILY_REGISTRY.items() for p in cls.parameters]))
    learners = learner_names()
    parser = _Parser(prog="metaviz", description="See meta-learning on few-shot regression. "
                     "Without a subcommand, opens the window.")
    _add_plugin_option(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    train = sub.add_parser("train", help="meta-train a learner headless and save a checkpoint")
    _add_plugin_option(train)
    train.add_argument("--learner", choices=learners, default="maml", help="; ".join(
        f"{n}: {learner_spec(n).label}" for n in learners) + " (default maml)")
    train.add_argument("--iterations", type=_limit("iterations"), help="budget (default: the learner's)")
    train.add_argument("--seed", type=_limit("seed"), default=0, help="seed of weights and tasks (default 0)")
    train.add_argument("--inner-lr", type=_rate, help="alpha, the inner (adaptation) rate (default 0.01)")
    train.add_argument("--meta-lr", type=_rate, help="beta, peak of the cosine schedule (default: the learner's)")
    train.add_argument("--inner-steps", type=_limit("inner_steps"), help="inner steps while training (default 1)")
    train.add_argument("--meta-batch", type=_limit("meta_batch"), help="tasks per meta-step (default 25)")
    train.add_argument("--shots", type=_limit("shots"), help="K support points per task (default 10)")
    train.add_argument("--out", type=Path, help="checkpoint path (default runs/LEARNER-seedS.pt)")
    train.add_argument("--resume", type=Path, help="continue training from this checkpoint (rates may be changed)")
    train.add_argument("--threads", type=_bounded_int("threads", 1, 256), default=1,
                       help="intra-op torch threads (default 1)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_task_options(train, families, range_names, "training")

    evaluate = sub.add_parser("evaluate", help="score a checkpoint on the benchmark protocol")
    _add_plugin_option(evaluate)
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--shots", type=_bounded_int("shots", 1, 1000), nargs="+", default=[5, 10, 20],
                          help="K values (default 5 10 20)")
    evaluate.add_argument("--steps", type=_bounded_int("steps", 0, 1000), default=10,
                          help="adaptation steps (default 10)")
    evaluate.add_argument("--tasks", type=_bounded_int("tasks", 2, 1_000_000), default=600,
                          help="held-out tasks (default 600)")
    evaluate.add_argument("--seed", type=_limit("seed"), default=None, help="evaluation seed (default 20170703)")
    evaluate.add_argument("--lr", type=_rate, help="test-time rate (default: the learner's, per K)")
    evaluate.add_argument("--json", type=Path, help="curves as JSON (default CHECKPOINT.eval.json)")
    _add_task_options(evaluate, families, range_names, "evaluation: a probe apart from training")

    reproduce = sub.add_parser("reproduce", help="train MAML, pretrained and multi-task; evaluate; table + figure")
    _add_plugin_option(reproduce)
    reproduce.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="folder (default runs/reproduce)")
    reproduce.add_argument("--learners", nargs="+", choices=learners, help="(default maml pretrained multitask)")
    reproduce.add_argument("--iterations", type=_limit("iterations"), help="override every default budget")
    reproduce.add_argument("--tasks", type=_bounded_int("tasks", 2, 1_000_000), default=600,
                           help="held-out tasks (default 600)")
    reproduce.add_argument("--seed", type=_limit("seed"), default=0, help="training seed (default 0)")
    _add_task_options(reproduce, families, range_names, "evaluation: a probe apart from training")

    bench = sub.add_parser("bench", help="batched MAML vs a per-task loop, same run")
    _add_plugin_option(bench)
    bench.add_argument("--seconds", type=_number(0.0, 600.0, "seconds"), default=3.0,
                       help="time per measurement (default 3)")
    bench.add_argument("--rounds", type=_bounded_int("rounds", 1, 100), default=3, help="(default 3)")

    shot = sub.add_parser("screenshot", help="train briefly in the window and save a PNG of it")
    _add_plugin_option(shot)
    shot.add_argument("path", type=Path)
    shot.add_argument("--iterations", type=_bounded_int("iterations", 1, 1_000_000), default=2000,
                      help="(default 2000)")
    shot.add_argument("--size", nargs=2, type=_bounded_int("size", 320, 8000), metavar=("W", "H"),
                      help="window size in pixels (default 1400 900)")
    shot.add_argument("--tour", action="store_true", help="also the Compare and Evaluate tabs (PATH-*.png)")
    return parser


def _plugin_files(argv: list[str]) -> list[Path]:
    """The --plugin files anywhere on the line, before the full parser exists."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", action="append", default=[], type=Path)
    return pre.parse_known_args(argv)[0].plugin


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        from .plugins import PluginError, load_plugins

        try:
            for problem in load_plugins(_plugin_files(argv)):
                print(f"metaviz: warning: {problem}", file=sys.stderr)
        except PluginError as exc:
            print(f"metaviz: error: {exc}", file=sys.stderr)
            sys.exit(2)
        args = build_parser().parse_args(argv)
        if args.command is None:
            from .ui.launch import launch

            code = launch()
        elif args.command == "screenshot":
            from .ui.launch import screenshot

            code = screenshot(args.path, args.iterations, args.tour, args.size)
        else:
            from . import commands

            code = getattr(commands, args.command)(args)
    except ValueError as exc:  # invalid settings or files: one clear line
        print(f"metaviz: error: {exc}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # e.g. `evaluate ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except OSError as exc:  # e.g. a folder that vanished mid-run
        print(f"metaviz: error: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)
