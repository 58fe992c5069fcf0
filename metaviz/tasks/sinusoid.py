"""The sinusoid family of Finn et al. 2017, section 5.1: y = A sin(x - phase).

Defaults: A ~ U[0.1, 5.0], phase ~ U[0, pi], x ~ U[-5, 5], noise-free. Every task is
a sin x + b cos x (a = A cos(phase), b = -A sin(phase)): two numbers fix it.

Oracle: least squares in span{sin x, cos x}, the true functional form with the frequency
known. When it is exact (:meth:`Sinusoid.oracle_exact`): without label noise and with two
or more support points. The model is linear in (a, b); two points x1, x2 give the system
[sin x1, cos x1; sin x2, cos x2] (a, b) = (y1, y2), whose determinant is sin(x1 - x2): it
has one solution unless x1 - x2 is a multiple of pi. The truth solves it with no residual,
so least squares returns the truth itself, which every task of the prior that fits the
points equals: the posterior is a point mass on it, whatever the ranges. (Points all a
multiple of pi apart, a set of probability zero, leave it the minimum-norm fit.) It is not
exact otherwise: with label noise it is the maximum-likelihood fit, not the posterior mean,
which weighs in the prior on A and phase (the fit may leave their ranges); with one point,
a one-parameter family of tasks fits it and the minimum-norm fit is not their posterior mean.
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
    oracle_method = "least squares"

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        amplitude, phase = tasks[:, 0].view(-1, 1, 1), tasks[:, 1].view(-1, 1, 1)
        return amplitude * torch.sin(x - phase)

    def y_bound(self) -> float:
        return max(abs(v) for v in self.ranges["amp"])

    def oracle(self, x_support, y_support, x_query, tasks=None):
        """Least squares in span{sin x, cos x} (see the module docstring); mean [T, Q, 1], no std."""
        def features(x: torch.Tensor) -> torch.Tensor:  # [T, N, 1] -> [T, N, 2], float64 for the solve
            x = x.to(torch.float64)
            return torch.cat([torch.sin(x), torch.cos(x)], dim=-1)

        # gelsd: the minimum-norm solution where the points do not fix both coefficients (K = 1).
        weights = torch.linalg.lstsq(features(x_support), y_support.to(torch.float64), driver="gelsd").solution
        return (features(x_query) @ weights).to(x_query.dtype), None

    @classmethod
    def oracle_exact(cls, shots: int, noise_std: float) -> bool:
        """Exact from two noise-free points on (see the module docstring for why)."""
        return noise_std == 0 and shots >= 2


FAMILIES = (Sinusoid,)
