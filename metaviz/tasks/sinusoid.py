"""The sinusoid family of Finn et al. 2017, section 5.1: y = A sin(x - phase).

Defaults: A ~ U[0.1, 5.0], phase ~ U[0, pi], x ~ U[-5, 5], noise-free. Every task is
a sin x + b cos x (a = A cos(phase), b = -A sin(phase)): two numbers fix it.
"""

from __future__ import annotations

import math

import torch

from .base import Parameter, TaskFamily


class Sinusoid(TaskFamily):
    name = "sinusoid"
    label = "Sinusoids (MAML paper)"
    description = "y = A sin(x - phase), the MAML paper's regression benchmark"
    parameters = (
        Parameter("amp", "Amplitude", 0.1, 5.0, "A, the height of the wave"),
        Parameter("phase", "Phase", 0.0, math.pi, "the shift of the wave along x"),
    )
    x_range = (-5.0, 5.0)

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        amplitude, phase = tasks[:, 0].view(-1, 1, 1), tasks[:, 1].view(-1, 1, 1)
        return amplitude * torch.sin(x - phase)

    def y_bound(self) -> float:
        return max(abs(v) for v in self.ranges["amp"])


FAMILIES = (Sinusoid,)
