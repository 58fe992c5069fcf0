"""Sinusoid or line (Finn, Xu & Levine 2018, "Probabilistic MAML"; torchmeta
``toy/sinusoid_line.py``): half the tasks are the MAML sinusoids amp sin(x - phase)
(amp ~ U[0.1, 5], phase ~ U[0, pi]), half are lines slope x + offset (slope, offset ~
U[-3, 3]), x ~ U[-5, 5]. Two points fit a line and a sinusoid alike: the support set is
ambiguous, which is what the family is for.

It is the two-mode member of :mod:`.multimodal` (MMAML's two-mode set is the same
family): ``mode`` is 0 for a sinusoid and 1 for a line, drawn as a fair coin; a value in
between (a slider) means the nearer one, i.e. a line from 0.5 up. Narrowing the mode
range to [0, 0.5] or [0.5, 1] keeps only sinusoids or only lines.

Departure from torchmeta: it shuffles a fixed half-and-half list of its task pool; here
each task's kind is an independent coin (the same distribution of a task).
"""

from __future__ import annotations

from .multimodal import Multimodal, mode_parameters


class SinusoidLine(Multimodal):
    name = "sinusoid_line"
    label = "Sinusoid or line (Finn 2018)"
    description = "half sinusoids, half lines: two points fit either"
    modes = ("sinusoid", "line")
    parameters = mode_parameters(modes)


FAMILIES = (SinusoidLine,)
