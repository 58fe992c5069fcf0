"""Function samples: whole curves drawn from a learner's joint posterior.

A predictive band says how unsure a learner is at each x on its own; a sample is one
function the learner thinks the task could be. Only a learner with a joint posterior
over functions can give one. The Bayesian-head learners (ALPaCA, the multi-task
model's head posterior) have it: they are Bayesian linear models y = phi(x) . w + noise
with a Gaussian posterior over the head w, so each head drawn from it is a coherent
function x -> phi(x) . w. Such a learner declares it by a method::

    head_posterior(x_support, y_support) -> (mean [T, D], factor [T, D, D])   # float64

with the posterior w ~ N(mean, factor factor^T) given the support points [T, K, 1],
beside ``features(x)`` [T, N, 1] -> [T, N, D]. A learner whose predictive is Gaussian
at each point separately (a neural process) has no such posterior: drawing independent
normals per x would be noise, not functions, so it gets none.

Qt-free.
"""

from __future__ import annotations

import torch

from .learners.inputs import check_points


def has_function_samples(learner) -> bool:
    """Whether ``learner`` declares a joint posterior over a linear head."""
    return callable(getattr(learner, "head_posterior", None)) and callable(getattr(learner, "features", None))


def why_no_samples(learner, label: str) -> str:
    """One sentence saying why ``learner`` (called ``label``) has no function samples
    ("" if it has them)."""
    if has_function_samples(learner):
        return ""
    if getattr(learner, "has_predictive", False):
        return (f"{label} gives a mean and a spread at each x on its own, not a distribution over whole "
                f"functions: there are no function samples to draw (the band is its uncertainty).")
    return f"{label} has no predictive distribution: it gives one prediction, with nothing to sample."


def function_samples(learner, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
                     count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` functions drawn from ``learner``'s head posterior given the support points
    ``x_support``/``y_support`` [T, K, 1], evaluated at ``x_query`` [T, Q, 1] (float32):
    [count, T, Q, 1] float64, without label noise. Normals come from ``generator``."""
    if not has_function_samples(learner):
        raise ValueError(f"learner {getattr(learner, 'kind', learner)!r} has no joint posterior to sample "
                         f"(it declares no head_posterior)")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an integer >= 1, got {count!r}")
    check_points(x_support, y_support, x_query)
    with torch.no_grad():
        mean, factor = learner.head_posterior(x_support, y_support)  # [T, D], [T, D, D]
        normals = torch.randn((count, *mean.shape), generator=generator, dtype=torch.float64)  # [S, T, D]
        heads = mean + (factor @ normals.unsqueeze(-1)).squeeze(-1)  # [S, T, D]
        phi = learner.features(x_query).to(torch.float64)  # [T, Q, D]
        return phi @ heads.unsqueeze(-1)  # [S, T, Q, 1]
