"""The headless reproduction figure: the MAML paper's evaluation figure as one SVG.

``python main.py reproduce`` runs where there may be no display and no Qt, so this
module writes SVG text itself (stdlib only) and never imports Qt, PySide6 or pyqtgraph.
One panel per K, query MSE on a log10 axis against gradient steps; each learner is a
line with its 95% band, the published figures are grey markers, the legend sits below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from .files import write_atomic
from .learners import LEARNER_REGISTRY, learner_spec
from .protocol import EvaluationResult
from .published import PUBLISHED
from .report import protocol_text, published_apply

PLOT_WIDTH, PLOT_HEIGHT = 300, 220  # one panel's data area, SVG px; the y axis maps whole decades onto PLOT_HEIGHT
SLOT_LEFT, SLOT_RIGHT, MARGIN = 64, 20, 12  # room left of a panel for tick labels and the y title
TOP = 62  # title and panel titles sit above the data area
CHAR = 6.6  # an over-estimate of one 11-12 px sans-serif glyph: SVG cannot measure text, so layout guesses high
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
MARKERS = ("circle", "square", "diamond", "triangle", "cross")  # one per published row, all grey
GREY = "#666666"


def _text(value: object) -> str:
    """Escaped for text and attributes; XML 1.0 forbids most control characters outright."""
    return escape(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(value)), {'"': "&quot;"})


def _styles(results: Sequence[EvaluationResult]) -> list[tuple[str, str]]:
    """(colour, label) per result: a registered learner's declared ones, so the figure
    matches the window; unknown names take Okabe-Ito colours no declared one uses here."""
    known = set(LEARNER_REGISTRY.names())
    taken = {learner_spec(r.learner).colour.lower() for r in results if r.learner in known}
    palette = [c for c in OKABE_ITO if c.lower() not in taken] or list(OKABE_ITO)
    styles, unknown = [], 0
    for r in results:
        if r.learner in known:
            spec = learner_spec(r.learner)
            styles.append((spec.colour, spec.label))
        else:
            styles.append((palette[unknown % len(palette)], r.learner))
            unknown += 1
    return styles


def _runs(values: Sequence[float]) -> Iterator[list[int]]:
    """Indices of the finite stretches: a nan or inf (all tasks diverged) is a gap, not a point."""
    run: list[int] = []
    for i, v in enumerate(values):
        if math.isfinite(v):
            run.append(i)
        elif run:
            yield run
            run = []
    if run:
        yield run


def _marker(shape: str, x: float, y: float, tip: str, cls: str = "published", r: float = 4.0) -> str:
    common = f'class="{cls}" fill="{GREY}" stroke="white" stroke-width="0.8"'
    if shape == "circle":
        body = f'<circle {common} cx="{x:.2f}" cy="{y:.2f}" r="{r}"'
    elif shape == "square":
        body = f'<rect {common} x="{x - r:.2f}" y="{y - r:.2f}" width="{2 * r}" height="{2 * r}"'
    else:
        pts = {"diamond": [(0, -1.3), (1.3, 0), (0, 1.3), (-1.3, 0)], "triangle": [(0, -1.2), (1.1, 0.9), (-1.1, 0.9)],
               "cross": [(-.4, -1), (.4, -1), (.4, -.4), (1, -.4), (1, .4), (.4, .4), (.4, 1), (-.4, 1), (-.4, .4),
                         (-1, .4), (-1, -.4), (-.4, -.4)]}[shape]
        body = f'<polygon {common} points="{" ".join(f"{x + a * r:.2f},{y + b * r:.2f}" for a, b in pts)}"'
    return body + (f"><title>{_text(tip)}</title></{body[1:body.index(' ')]}>" if tip else "/>")


def _tick_label(decade: int) -> str:
    return f"{10.0 ** decade:g}" if -3 <= decade <= 3 else f"1e{decade}"


def save_svg_figure(results: Sequence[EvaluationResult], stem: Path) -> list[Path]:
    """Write ``stem.with_suffix('.svg')`` (atomically) and return ``[that path]``."""
    if not results:
        raise ValueError("no results to draw")
    shots = sorted({k for r in results for k in r.curves})
    steps = max(1, max(r.steps for r in results))
    sinusoid = published_apply(results)
    published = [(MARKERS[i % len(MARKERS)], row, [(k, s, m, ci) for (k, s), (m, ci) in sorted(row.mse.items())
                                                   if k in shots and s <= steps])
                 for i, row in enumerate(PUBLISHED)] if sinusoid else []
    published = [entry for entry in published if entry[2]]

    # A band reaching zero has no place on a log axis: clip lower edges a decade below the
    # smallest mean, so one noisy point cannot stretch the axis over empty decades.
    means = [m for r in results for c in r.curves.values() for m in c.mean if math.isfinite(m) and m > 0]
    floor = min(means) / 10 if means else 1e-3
    lows, highs = [], []
    for r in results:
        for c in r.curves.values():
            for m, ci in zip(c.mean, c.ci95):
                if math.isfinite(m):
                    ci = ci if math.isfinite(ci) else 0.0
                    lows.append(max(m - ci, floor))
                    highs.append(max(m + ci, floor))
    for _, _, points in published:
        lows += [max(m - (ci or 0.0), floor) for *_, m, ci in points]
        highs += [m + (ci or 0.0) for *_, m, ci in points]
    lo = math.floor(math.log10(min(lows))) if lows else -1
    hi = max(lo + 1, math.ceil(math.log10(max(highs)))) if highs else 1

    def y_of(value: float, clip: bool = True) -> float:
        """SVG y of an MSE; data below the floor is drawn at it (ticks are not clipped)."""
        return TOP + (hi - math.log10(max(value, floor) if clip else value)) / (hi - lo) * PLOT_HEIGHT

    title = protocol_text(results)
    styles = _styles(results)
    slot = SLOT_LEFT + PLOT_WIDTH + SLOT_RIGHT
    width = max(len(shots) * slot + 2 * MARGIN, len(title) * CHAR + 2 * MARGIN)
    x0 = (width - len(shots) * slot) / 2  # centre the panels under a title wider than them
    out = [f'<text x="{width / 2:.1f}" y="24" text-anchor="middle" font-size="12">{_text(title)}</text>']

    every = max(1, math.ceil((hi - lo) / 8))  # label at most ~8 decades when values span many
    xstep = next(s for s in (10 ** e * f for e in range(9) for f in (1, 2, 5)) if steps / s <= 10)
    for p, k in enumerate(shots):
        ox = x0 + p * slot + SLOT_LEFT

        def x_of(step: float, ox: float = ox) -> float:
            return ox + step / steps * PLOT_WIDTH

        bottom = TOP + PLOT_HEIGHT
        out.append(f'<g class="panel" data-shots="{k}">')
        out.append(f'<text x="{ox + PLOT_WIDTH / 2:.1f}" y="{TOP - 10}" text-anchor="middle" font-size="12" '
                   f'font-weight="bold">K = {k} shots</text>')
        for d in range(lo, hi + 1):
            y = y_of(10.0 ** d, clip=False)
            out.append(f'<line x1="{ox}" x2="{ox + PLOT_WIDTH}" y1="{y:.2f}" y2="{y:.2f}" stroke="#e4e4e4"/>')
            if (d - lo) % every == 0:
                out.append(f'<text class="ytick" x="{ox - 6}" y="{y + 4:.2f}" text-anchor="end">{_tick_label(d)}'
                           "</text>")
            for minor in range(2, 10) if d < hi and hi - lo <= 5 else ():
                ym = y_of(minor * 10.0 ** d, clip=False)
                out.append(f'<line x1="{ox}" x2="{ox + 3}" y1="{ym:.2f}" y2="{ym:.2f}" stroke="#444"/>')
        for s in range(0, steps + 1, xstep):
            out.append(f'<line x1="{x_of(s):.2f}" x2="{x_of(s):.2f}" y1="{bottom}" y2="{bottom + 4}" stroke="#444"/>'
                       f'<text x="{x_of(s):.2f}" y="{bottom + 16}" text-anchor="middle">{s}</text>')
        out.append(f'<rect x="{ox}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" stroke="#444"/>')
        out.append(f'<text x="{ox + PLOT_WIDTH / 2:.1f}" y="{bottom + 34}" text-anchor="middle" font-size="12">'
                   "gradient steps</text>")
        if p == 0:
            out.append(f'<text x="{ox - 50}" y="{TOP + PLOT_HEIGHT / 2}" text-anchor="middle" font-size="12" '
                       f'transform="rotate(-90 {ox - 50} {TOP + PLOT_HEIGHT / 2})">query MSE</text>')
        bands, lines = [], []  # every band before any line, so no band tints another learner's line
        for r, (colour, label) in zip(results, styles):
            curve, who = r.curves.get(k), f'data-learner="{_text(r.learner)}"'
            for run in _runs(curve.mean if curve else ()):
                ci = [c if math.isfinite(c) else 0.0 for c in (curve.ci95[j] for j in run)]
                upper = [f"{x_of(j):.2f},{y_of(curve.mean[j] + c):.2f}" for j, c in zip(run, ci)]
                lower = [f"{x_of(j):.2f},{y_of(curve.mean[j] - c):.2f}" for j, c in zip(run, ci)]
                line = " ".join(f"{x_of(j):.2f},{y_of(curve.mean[j]):.2f}" for j in run)
                bands.append(f'<polygon class="band" {who} fill="{colour}" fill-opacity="0.2" stroke="none" '
                             f'points="{" ".join(upper + lower[::-1])}"/>')
                lines.append(f'<polyline class="curve" {who} fill="none" stroke="{colour}" stroke-width="2" '
                             f'points="{line}"><title>{_text(label)}</title></polyline>')
                if len(run) == 1:  # a lone point between gaps would be an invisible zero-length line
                    lines.append(f'<circle {who} cx="{x_of(run[0]):.2f}" cy="{y_of(curve.mean[run[0]]):.2f}" '
                                 f'r="2.5" fill="{colour}"/>')
        out += bands + lines
        for shape, row, points in published:
            for kk, s, m, ci in points:
                if kk != k:
                    continue
                if ci:
                    out.append(f'<line x1="{x_of(s):.2f}" x2="{x_of(s):.2f}" y1="{y_of(m - ci):.2f}" '
                               f'y2="{y_of(m + ci):.2f}" stroke="{GREY}" stroke-width="1.2"/>')
                out.append(_marker(shape, x_of(s), y_of(m), f"{row.method} (published, {row.source}): {m:g}"))
        out.append("</g>")

    # The legend flows in rows below the panels, so it can never cover data.
    entries = [("line", *style) for style in styles]
    entries += [(shape, GREY, f"{row.method} (published)") for shape, row, _ in published]
    x, y = MARGIN, TOP + PLOT_HEIGHT + 62
    out.append('<g class="legend">')
    for kind, colour, label in entries:
        size = 30 + len(label) * CHAR + 16
        if x > MARGIN and x + size > width - MARGIN:
            x, y = MARGIN, y + 20
        if kind == "line":
            out.append(f'<rect x="{x}" y="{y - 6}" width="24" height="12" fill="{colour}" fill-opacity="0.2"/>'
                       f'<line x1="{x}" x2="{x + 24}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"/>')
        else:
            out.append(_marker(kind, x + 12, y, "", "legend-marker"))
        out.append(f'<text x="{x + 30}" y="{y + 4}">{_text(label)}</text>')
        x += size
    out.append("</g>")
    height = y + 18
    svg = (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(out) + "\n</svg>\n")
    path = Path(stem).with_suffix(".svg")
    write_atomic(path, svg)
    return [path]
