"""One colour per learner in every view: the colour its kind declares (LearnerSpec.colour),
and for a second, third... learner of the same kind a darker, then lighter, shade of it,
so two MAML runs side by side stay apart while reading as MAML."""

from __future__ import annotations

from collections.abc import Iterable

from ..learners import learner_spec

FALLBACK = "#7f7f7f"
_SHADES = (0.0, -0.35, 0.35, -0.6, 0.6)  # mix towards black (-) or white (+)


def shade(colour: str, amount: float) -> str:
    """``colour`` ('#rrggbb') mixed towards white (amount > 0) or black (< 0)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    target = 255 if amount > 0 else 0
    mixed = [round(c + (target - c) * abs(amount)) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def kind_colour(kind: str) -> str:
    try:
        return learner_spec(kind).colour
    except ValueError:
        return FALLBACK


def learner_colours(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """name -> colour for (name, kind) pairs in session order."""
    seen: dict[str, int] = {}
    colours = {}
    for name, kind in entries:
        n = seen.get(kind, 0)
        seen[kind] = n + 1
        colours[name] = shade(kind_colour(kind), _SHADES[n % len(_SHADES)])
    return colours
