"""Families mixing several kinds of function (modes): one initialisation must serve all.

The modes and ranges are MMAML's (Vuorio et al. 2019, ``maml/datasets/simple_functions.py``
in vuoristo/MMAML-Regression), all on x ~ U[-5, 5]:

    sinusoid   amp sin(x - phase)                         amp ~ U[0.1, 5], phase ~ U[0, pi]
    line       slope x + offset                           slope, offset ~ U[-3, 3]
    quadratic  s curvature (x - centre)^2 + offset        curvature ~ U[0.02, 0.15], s = +-1,
                                                          centre, offset ~ U[-3, 3]
    tanh       slope tanh(x - centre) + offset            slope, centre, offset ~ U[-3, 3]
    abs        slope |x - centre| + offset                slope, centre, offset ~ U[-3, 3]

A task is one row of every parameter any mode uses, with ``mode`` (an integer) saying
which function it is; the columns a mode does not use are ignored. Modes share columns
where they mean the same thing (slope, offset, centre), so the window shows one slider
each. The quadratic's sign s is the sign of ``slope`` (which it does not otherwise use):
MMAML draws s as a fair coin independent of the rest, and so is the sign of a slope
uniform on the symmetric [-3, 3] (narrowing the slope range therefore also turns the
parabolas one way).

Departure from MMAML: it fills each meta-batch with equally many tasks of each mode;
here each task's mode is drawn independently and uniformly (the same distribution of
a task, a batch that varies a little in its mix), so evaluation draws tasks the same way.

No exact oracle: from few points the mode is ambiguous and the posterior over it and
the parameters has no closed form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch

from .base import Parameter, TaskFamily

Columns = dict[str, torch.Tensor]  # parameter name -> [T, 1, 1]


def _sign(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v >= 0, 1.0, -1.0).to(v.dtype)


# Each mode: the parameters it reads, and y for x [T, N, 1].
MODES: dict[str, tuple[tuple[str, ...], Callable[[Columns, torch.Tensor], torch.Tensor]]] = {
    "sinusoid": (("amp", "phase"), lambda p, x: p["amp"] * torch.sin(x - p["phase"])),
    "line": (("slope", "offset"), lambda p, x: p["slope"] * x + p["offset"]),
    "quadratic": (("slope", "curvature", "centre", "offset"),
                  lambda p, x: _sign(p["slope"]) * p["curvature"] * (x - p["centre"]) ** 2 + p["offset"]),
    "tanh": (("slope", "centre", "offset"), lambda p, x: p["slope"] * torch.tanh(x - p["centre"]) + p["offset"]),
    "abs": (("slope", "centre", "offset"), lambda p, x: p["slope"] * (x - p["centre"]).abs() + p["offset"]),
}

PARAMETERS = {  # in the order the columns take
    "amp": Parameter("amp", "Amplitude", 0.1, 5.0, "sinusoid: the height of the wave"),
    "phase": Parameter("phase", "Phase", 0.0, math.pi, "sinusoid: the shift of the wave along x"),
    "slope": Parameter("slope", "Slope", -3.0, 3.0,
                       "line: its slope; tanh, |x|: their steepness; quadratic: its sign says up or down"),
    "offset": Parameter("offset", "Offset", -3.0, 3.0, "the line's intercept; the other curves' level"),
    "centre": Parameter("centre", "Centre", -3.0, 3.0, "where the quadratic, tanh or |x| turns"),
    "curvature": Parameter("curvature", "Curvature", 0.02, 0.15, "quadratic: how sharply it bends"),
}


def mode_parameters(modes: tuple[str, ...]) -> tuple[Parameter, ...]:
    """``mode`` (0 .. len(modes) - 1), then every parameter the modes read."""
    used = {name for mode in modes for name in MODES[mode][0]}
    mode = Parameter("mode", "Mode", 0, len(modes) - 1,
                     ", ".join(f"{i} {m}" for i, m in enumerate(modes)), integer=True)
    return (mode, *(p for name, p in PARAMETERS.items() if name in used))


class Multimodal(TaskFamily):
    """Base of the mixtures: a subclass sets ``modes`` and ``parameters = mode_parameters(modes)``."""

    modes: ClassVar[tuple[str, ...]]

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        columns = {p.name: tasks[:, i].view(-1, 1, 1) for i, p in enumerate(self.parameters)}
        mode = (columns["mode"] + 0.5).floor().clamp(0, len(self.modes) - 1)  # nearest; halves up (0.5: mode 1)
        y = torch.zeros_like(x)
        for index, name in enumerate(self.modes):  # a loop over modes, batched over tasks
            y = torch.where(mode == index, MODES[name][1](columns, x), y)
        return y

    def y_bound(self) -> float:
        """The largest |y| over the ranges: every mode at every corner of the parameter
        box, on a fine x grid (each mode's |y| peaks at a corner of its parameters)."""
        corners = torch.cartesian_prod(*(torch.tensor(self.ranges[p.name], dtype=torch.float64)
                                         for p in self.parameters[1:]))
        corners = corners.view(len(corners), -1)  # one parameter besides the mode gives a 1-d product
        tasks = torch.cat([torch.cat([torch.full((len(corners), 1), float(m), dtype=torch.float64), corners], 1)
                           for m in range(len(self.modes))])
        grid = torch.linspace(*self.ranges["x"], 401, dtype=torch.float64).view(1, -1, 1).expand(len(tasks), -1, -1)
        return self.truth(tasks, grid).abs().max().item()


class Multimodal3(Multimodal):
    name = "multimodal3"
    label = "Three modes: sinusoid, line, quadratic (MMAML)"
    description = "a third of the tasks sinusoids, a third lines, a third parabolas (Vuorio et al. 2019)"
    modes = ("sinusoid", "line", "quadratic")
    parameters = mode_parameters(modes)


class Multimodal5(Multimodal):
    name = "multimodal5"
    label = "Five modes: sinusoid, line, quadratic, tanh, |x| (MMAML)"
    description = "five kinds of function in equal shares (Vuorio et al. 2019)"
    modes = ("sinusoid", "line", "quadratic", "tanh", "abs")
    parameters = mode_parameters(modes)


FAMILIES = (Multimodal3, Multimodal5)
