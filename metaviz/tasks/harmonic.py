"""Sums of two harmonics seen around a task-specific centre (Lacoste et al. 2018,
"Uncertainty in multitask transfer learning"; torchmeta ``toy/harmonic.py``):

    y = a1 sin(w x + b1) + a2 sin(2 w x + b2),   x ~ N(centre, 1)

as in torchmeta: w ~ U[5, 7], b1, b2 ~ U[0, 2 pi], centre ~ U[-4, 4], and every point of
a task (support and query alike) drawn around its centre, so a learner that extrapolates
far from the points is never scored there, while the window shows it.

Departures from torchmeta, and why:
- a1, a2 ~ U[-sqrt 3, sqrt 3] rather than N(0, 1): every parameter here is uniform on a
  range a user can narrow or widen (and a slider can span); this uniform has the same
  mean and variance as N(0, 1), so the mean signal power E[y^2] = 1 is the source's.
- x is N(centre, 1) truncated to the x range [-8, 8] (torchmeta does not truncate):
  the range is the plot's and must hold the points; it lies 4 standard deviations or
  more from any default centre, so the truncation removes < 4e-5 of the mass.

No exact oracle: the posterior over (w, a, b) given a few points has no closed form.
"""

from __future__ import annotations

import math

import torch

from .base import Parameter, TaskFamily, uniform

SPREAD = 1.0  # the standard deviation of the inputs around a task's centre (torchmeta's)


class Harmonic(TaskFamily):
    name = "harmonic"
    label = "Two harmonics around a centre (Lacoste 2018)"
    description = "a1 sin(w x + b1) + a2 sin(2 w x + b2), points seen only around a task's centre"
    parameters = (
        Parameter("freq", "Frequency w", 5.0, 7.0, "the base angular frequency"),
        Parameter("amp1", "Amplitude a1", -math.sqrt(3), math.sqrt(3), "weight of sin(w x + b1)"),
        Parameter("amp2", "Amplitude a2", -math.sqrt(3), math.sqrt(3), "weight of sin(2 w x + b2)"),
        Parameter("phase1", "Phase b1", 0.0, 2 * math.pi, "shift of the first harmonic"),
        Parameter("phase2", "Phase b2", 0.0, 2 * math.pi, "shift of the second harmonic"),
        Parameter("centre", "Centre of the inputs", -4.0, 4.0, "where the task's points are seen (sd 1)"),
    )
    x_range = (-8.0, 8.0)
    # Up to 2 w = 14 rad per unit over 16 units: ~36 periods; 1000 points give ~28 a period.
    plot_points = 1000

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        freq, amp1, amp2, phase1, phase2 = (tasks[:, i].view(-1, 1, 1) for i in range(5))
        return amp1 * torch.sin(freq * x + phase1) + amp2 * torch.sin(2 * freq * x + phase2)

    def sample_x(self, tasks: torch.Tensor, num_points: int, generator: torch.Generator) -> torch.Tensor:
        """x ~ N(centre, SPREAD^2) truncated to the x range, by the inverse CDF (one uniform a point)."""
        if num_points < 1:
            raise ValueError(f"number of points must be >= 1, got {num_points}")
        low, high = self.ranges["x"]
        centre = tasks[:, 5].to(torch.float64).view(-1, 1, 1)
        below = torch.special.ndtr((low - centre) / SPREAD)
        above = torch.special.ndtr((high - centre) / SPREAD)
        u = uniform((tasks.shape[0], num_points, 1), 0.0, 1.0, generator).to(torch.float64)
        x = centre + SPREAD * torch.special.ndtri(below + (above - below) * u)
        return x.clamp(low, high).to(torch.get_default_dtype())

    def y_bound(self) -> float:
        return max(map(abs, self.ranges["amp1"])) + max(map(abs, self.ranges["amp2"]))


FAMILIES = (Harmonic,)
