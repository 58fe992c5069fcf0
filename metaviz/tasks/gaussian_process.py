"""Functions drawn from a Gaussian process with an RBF kernel (the neural-process
literature's regression family), with an exact oracle: the GP posterior.

Kernel k(x, x') = variance * exp(-(x - x')^2 / (2 length_scale^2)); both are the family's
options (defaults 1 and 1), x ~ U[-5, 5] (the sinusoid's inputs), label noise as set.

How a task's function is represented. ``truth`` must be a deterministic function of
(task, x) at any x, so a task cannot be "a joint sample at the requested points". A
task is one number, ``draw`` in [0, 1] (uniform; any other value is another draw),
which seeds the standard normals z of a spectral (Fourier-feature) expansion:

    f(x) = sum_j sqrt(s_j) (z_cj cos(w_j x) + z_sj sin(w_j x)),   w_j = j * 2 pi / P,
    s_0 = variance * D p(0),  s_j = 2 variance * D p(w_j),  D = 2 pi / P,

with p the kernel's spectral density, N(0, 1 / length_scale^2). Unlike random Fourier
features (random frequencies: a kernel right only on average, and a process that is
not Gaussian), the frequencies are a regular grid, so f is exactly a Gaussian process
whose kernel is sum_j s_j cos(w_j (x - x')) = sum_m k(x - x' + m P) (Poisson summation):
the RBF kernel made periodic with period P. With P = (width of the x range) + 10
length scales, the other terms add at most variance * exp(-50) for x, x' in the x
range, and frequencies are kept up to 9 / length_scale (the rest of p's mass is
~1e-19): on the x range the process is the RBF GP to float64 precision. (Widening the
x range lengthens P: the same draw is then another function of the same process.)

The oracle is exact for this process: the posterior mean and standard deviation
(with the label noise) of the GP with that kernel, computed from the features.

The normals come from a counter-based hash of (draw, feature index), batched over
tasks: no per-task generator, the same numbers on every machine and call.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .base import Option, Parameter, TaskFamily

DRAW_RESOLUTION = 2**24  # distinct draws in [0, 1): float32 holds each exactly
MASK32 = 0xFFFFFFFF
CUTOFF = 9.0  # highest frequency kept, in units of 1 / length_scale
MARGIN = 10.0  # period beyond the x range, in length scales
JITTER = 1e-10  # times the variance, added to the support covariance so noise-free Cholesky exists


def _mix32(h: np.ndarray) -> np.ndarray:
    """A bijective 32-bit integer hash (C. Wellons' "lowbias32"). On numpy uint32, whose
    products wrap mod 2^32 by definition (and whose ops cost a tenth of torch's here)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x7FEB352D)
    h = h ^ (h >> np.uint32(15))
    h = h * np.uint32(0x846CA68B)
    return h ^ (h >> np.uint32(16))


def hashed_normals(seeds: torch.Tensor, count: int) -> torch.Tensor:
    """Standard normals [T, count] (float64), a fixed function of int64 ``seeds`` [T].

    Two rounds per (seed, counter), the counter entering both, so tasks whose keys
    differ by a little do not get shifted copies of each other's numbers."""
    seeds = seeds.numpy().astype(np.int64)
    key = _mix32(((seeds ^ (seeds >> 32)) & MASK32).astype(np.uint32))  # high bits folded in
    counters = np.arange(count, dtype=np.uint32)
    bits = _mix32(_mix32(key[:, None] + counters) ^ counters)
    return torch.special.ndtri((torch.from_numpy(bits.astype(np.float64)) + 0.5) / 2**32)


class GaussianProcess(TaskFamily):
    name = "gaussian_process"
    label = "Gaussian-process draws (RBF kernel)"
    description = "random smooth functions from a GP with an RBF kernel; exact posterior as the oracle"
    parameters = (
        Parameter("draw", "Draw", 0.0, 1.0, "which function: every value is another random draw from the GP"),
    )
    options = (
        Option("length_scale", "Length scale", 1.0, 0.1, 5.0, "how far apart x must be for f to change"),
        Option("variance", "Variance", 1.0, 0.01, 100.0, "the prior variance of f(x)"),
    )
    x_range = (-5.0, 5.0)
    oracle_has_std = True

    def __init__(self, config=None) -> None:
        super().__init__(config)
        length, variance = self.option_values["length_scale"], self.option_values["variance"]
        low, high = self.ranges["x"]
        step = 2 * math.pi / (high - low + MARGIN * length)
        frequencies = torch.arange(math.ceil(CUTOFF / (length * step)) + 1, dtype=torch.float64) * step
        density = length / math.sqrt(2 * math.pi) * torch.exp(-0.5 * (frequencies * length) ** 2)
        weights = variance * step * density * torch.where(frequencies > 0, 2.0, 1.0)
        self.frequencies = frequencies[1:]  # the constant term (w_0 = 0) is kept apart
        self._scales = torch.cat([weights[:1], weights[1:], weights[1:]]).sqrt()  # [F]: 1 + 2 J features
        self.prior_variance = weights.sum().item()  # k(x, x) of the process sampled from

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[T, N, 1] -> [T, N, F] float64: phi(x) with f(x) = phi(x) . z and k(x, x') = phi(x) . phi(x')."""
        angles = x.to(torch.float64) * self.frequencies
        basis = torch.cat([torch.ones_like(x, dtype=torch.float64), torch.cos(angles), torch.sin(angles)], dim=-1)
        return basis * self._scales

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        seeds = torch.floor(tasks[:, 0].to(torch.float64) * DRAW_RESOLUTION).to(torch.int64)
        z = hashed_normals(seeds, self._scales.numel())  # [T, F]
        return (self.features(x) @ z.unsqueeze(-1)).to(x.dtype)

    def oracle(self, x_support, y_support, x_query, tasks=None):
        """The exact GP posterior at ``x_query``: mean and std [T, Q, 1] (std with the label noise)."""
        phi_support, phi_query = self.features(x_support), self.features(x_query)
        gram = phi_support @ phi_support.transpose(1, 2)  # [T, K, K]
        noise_var = self.noise_std**2
        gram.diagonal(dim1=1, dim2=2).add_(noise_var + JITTER * self.option_values["variance"])
        factor = torch.linalg.cholesky(gram)
        cross = phi_support @ phi_query.transpose(1, 2)  # [T, K, Q]: k(x_support, x_query)
        solved = torch.linalg.solve_triangular(factor, cross, upper=False)  # L^-1 k_sq
        alpha = torch.linalg.solve_triangular(factor, y_support.to(torch.float64), upper=False)  # L^-1 y
        mean = solved.transpose(1, 2) @ alpha
        variance = (self.prior_variance - solved.pow(2).sum(dim=1)).clamp_min(0.0) + noise_var
        return mean.to(x_query.dtype), variance.sqrt().unsqueeze(-1).to(x_query.dtype)

    @classmethod
    def oracle_exact(cls, shots: int, noise_std: float) -> bool:
        """Always: the tasks are draws from this very GP and the labels carry Gaussian noise of
        a known std, so its posterior mean is the Bayes answer for any K and any noise."""
        return True


FAMILIES = (GaussianProcess,)
