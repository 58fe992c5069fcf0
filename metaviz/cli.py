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

from .config import LIMITS, MAX_RATE, MAX_WIDTH
from .devices import CHOICES


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # "-1e3" is a number, not an option (argparse's default matcher misses exponents).
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _bounded_int(name: str, minimum: int, maximum: int):
    def parse(text: str) -> int:
        # A 5,000-digit argument is echoed by its length: the error stays one short line.
        shown = repr(text) if len(text) <= 30 else f"{len(text):,} characters"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {shown}") from None
        if not minimum <= value <= maximum:
            got = f"{value:,}" if len(text) <= 30 else f"a number of {len(text):,} digits"
            raise argparse.ArgumentTypeError(f"{name} must be between {minimum} and {maximum:,}, got {got}")
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


def _option(text: str) -> tuple[str, float]:
    """NAME=VALUE for a family's option (the family checks the name and bounds)."""
    name, equals, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (equals and name.isidentifier() and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. length_scale=0.5), got {text!r}")
    return name, number


def _add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=CHOICES, default="auto",
                        help="where the learner computes (default auto: cuda when present and the learner "
                             "supports it, else cpu)")


def _size(text: str) -> tuple[int, int]:
    """BATCHxWIDTH for bench, each bounded like the settings."""
    batch, times, width = text.lower().partition("x")
    if not (times and batch.isdigit() and width.isdigit()):
        raise argparse.ArgumentTypeError(f"expected BATCHxWIDTH (e.g. 25x40), got {text!r}")
    batch, width = _limit("meta_batch")(batch), _bounded_int("width", 1, MAX_WIDTH)(width)
    if batch * width * width > 1000 * 512 * 512:  # each per-task weight copy would pass 1 GB
        raise argparse.ArgumentTypeError(f"{text}: meta-batch x width^2 must be at most 1000 x 512^2")
    return batch, width


def _add_task_options(parser: argparse.ArgumentParser, families: list[str], range_names: list[str],
                      what: str, options: str = "") -> None:
    group = parser.add_argument_group(f"tasks ({what})")
    group.add_argument("--family", choices=families, help="task family (default: " +
                       ("the checkpoint's)" if what.startswith("evaluation") else "sinusoid)"))
    for name in range_names:
        group.add_argument(f"--{name}-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                           help=f"range of {name} (default: the family's)")
    group.add_argument("--noise", type=_number(-1e-300, 1e4, "a standard deviation >= 0"), metavar="STD",
                       help="label noise std (default: none)")
    group.add_argument("--option", type=_option, action="append", metavar="NAME=VALUE",
                       help="a family's setting (repeatable)" + (f": {options}" if options else ""))


def build_parser() -> argparse.ArgumentParser:
    """The full parser; learner and family choices come from the registries (call after
    plugins are loaded)."""
    from .jobs.reproduce import PRESETS
    from .learners import learner_names, learner_spec
    from .tasks import FAMILY_REGISTRY

    families = FAMILY_REGISTRY.names()
    range_names = list(dict.fromkeys(["x"] + [p.name for cls in FAMILY_REGISTRY.items() for p in cls.parameters]))
    options = "; ".join(f"{cls.name}: " + ", ".join(f"{o.name} (default {o.default:g})" for o in cls.options)
                        for cls in FAMILY_REGISTRY.items() if cls.options)
    learners = learner_names()
    parser = _Parser(prog="metaviz", description="See meta-learning on few-shot regression. "
                     "Without a subcommand, opens the window.")
    _add_plugin_option(parser)
    _add_device_option(parser)  # the window's
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    train = sub.add_parser("train", help="meta-train a learner headless and save a checkpoint")
    _add_plugin_option(train)
    train.add_argument("--learner", choices=learners, default="maml", help="; ".join(
        f"{n}: {learner_spec(n).label}" for n in learners) + " (default maml)")
    train.add_argument("--iterations", type=_limit("iterations"), help="budget (default: the learner's)")
    train.add_argument("--seed", type=_limit("seed"), default=0, help="seed of weights and tasks (default 0)")
    train.add_argument("--seeds", type=_limit("seed"), nargs="+", metavar="S",
                       help="train one run per seed, in parallel processes (--out is then a folder)")
    train.add_argument("--workers", type=_bounded_int("workers", 1, 64),
                       help="processes for --seeds (default: one per core)")
    train.add_argument("--inner-lr", type=_rate, help="alpha, the inner (adaptation) rate (default 0.01)")
    train.add_argument("--meta-lr", type=_rate, help="beta, peak of the cosine schedule (default: the learner's)")
    train.add_argument("--warmup", type=_limit("warmup"), metavar="N",
                       help="meta-lr warm-up steps before the cosine (default: the learner's; MAML 500)")
    train.add_argument("--inner-steps", type=_limit("inner_steps"), help="inner steps while training (default 1)")
    train.add_argument("--meta-batch", type=_limit("meta_batch"), help="tasks per meta-step (default 25)")
    train.add_argument("--shots", type=_limit("shots"), help="K support points per task (default 10)")
    train.add_argument("--out", type=Path, help="checkpoint path (default runs/LEARNER-seedS.pt)")
    train.add_argument("--resume", type=Path, help="continue training from this checkpoint (rates may be changed)")
    train.add_argument("--threads", type=_bounded_int("threads", 1, 256), default=1,
                       help="intra-op torch threads (default 1)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_device_option(train)
    train.add_argument("--compile", action="store_true",
                       help="MAML: a compiled meta-step (needs a C++ compiler), ~1.8x faster: built once per "
                            "setting by a background process on idle CPU while training starts eagerly, then "
                            "loaded from ~/.cache/metaviz/compiled")
    _add_task_options(train, families, range_names, "training", options)

    evaluate = sub.add_parser("evaluate", help="score a checkpoint (or a family's oracle) on the benchmark protocol")
    _add_plugin_option(evaluate)
    evaluate.add_argument("checkpoint", type=Path, nargs="?", help="a trained learner (required unless --oracle)")
    evaluate.add_argument("--oracle", action="store_true",
                          help="score --family's oracle instead of a checkpoint (the best possible answer where "
                          "it is exact: the GP posterior; the sinusoids' least squares from K >= 2 without label "
                          "noise), default family sinusoid, on the same tasks a checkpoint would meet with the same "
                          "--seed; families with one: " + ", ".join(
                              cls.name for cls in FAMILY_REGISTRY.items() if cls.has_oracle()))
    evaluate.add_argument("--shots", type=_bounded_int("shots", 1, 1000), nargs="+", default=[5, 10, 20],
                          help="K values (default 5 10 20)")
    evaluate.add_argument("--steps", type=_bounded_int("steps", 0, 1000), default=10,
                          help="adaptation steps (default 10)")
    evaluate.add_argument("--tasks", type=_bounded_int("tasks", 2, 1_000_000), default=600,
                          help="held-out tasks (default 600)")
    evaluate.add_argument("--seed", type=_limit("seed"), default=None, help="evaluation seed (default 20170703)")
    evaluate.add_argument("--lr", type=_rate, help="test-time rate (default: the learner's, per K)")
    _add_device_option(evaluate)
    evaluate.add_argument("--json", type=Path,
                          help="curves as JSON (default CHECKPOINT.eval.json; runs/oracle-FAMILY.eval.json)")
    _add_task_options(evaluate, families, range_names, "evaluation: a probe apart from training", options)

    reproduce = sub.add_parser("reproduce", help="train a preset's learners; evaluate; table + figure")
    _add_plugin_option(reproduce)
    reproduce.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="folder (default runs/reproduce)")
    reproduce.add_argument("--preset", choices=sorted(PRESETS), default="paper", help="; ".join(
        f"{name}: {preset.description}" for name, preset in sorted(PRESETS.items())) + " (default paper)")
    reproduce.add_argument("--learners", nargs="+", choices=learners, help="(default: the preset's)")
    reproduce.add_argument("--iterations", type=_limit("iterations"), help="override every default budget")
    reproduce.add_argument("--tasks", type=_bounded_int("tasks", 2, 1_000_000), default=600,
                           help="held-out tasks (default 600)")
    reproduce.add_argument("--seed", type=_limit("seed"), default=0, help="training seed (default 0)")
    reproduce.add_argument("--workers", type=_bounded_int("workers", 1, 64),
                           help="processes training learners at once (default: one per core)")
    _add_task_options(reproduce, families, range_names, "evaluation: a probe apart from training", options)

    bench = sub.add_parser("bench", help="batched MAML vs a per-task loop, same run")
    _add_plugin_option(bench)
    bench.add_argument("--seconds", type=_number(0.0, 600.0, "seconds"), default=3.0,
                       help="time per measurement (default 3)")
    bench.add_argument("--rounds", type=_bounded_int("rounds", 1, 100), default=3, help="(default 3)")
    bench.add_argument("--device", choices=CHOICES, default="auto",
                       help="auto: the CPU, and CUDA as well when present (default auto)")
    bench.add_argument("--sizes", type=_size, nargs="+", default=[(25, 40)], metavar="BATCHxWIDTH",
                       help="CPU sizes: meta-batch x hidden width, e.g. 25x40 1000x512 (default 25x40)")
    bench.add_argument("--no-compile", action="store_true", help="leave out the compiled step")

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
    from . import interrupts  # a leaf (signal and threading only): the CLI still parses first

    argv = sys.argv[1:] if argv is None else argv
    interrupts.defer()  # Ctrl-C while torch imports must not be lost (metaviz.interrupts)
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

            interrupts.honour()
            code = launch(args.device)
        elif args.command == "screenshot":
            from .ui.launch import screenshot

            interrupts.honour()
            code = screenshot(args.path, args.iterations, args.tour, args.size)
        else:
            from . import commands

            if args.command != "train":  # train takes a deferred Ctrl-C when its own handler starts
                interrupts.honour()
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
    except KeyboardInterrupt:  # Ctrl-C outside training's own handler: one line, the usual status
        print("metaviz: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
