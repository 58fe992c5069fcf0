"""Published sinusoid figures (PROTOCOL.md) to show beside ours: MSE by (K, steps)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedRow:
    """``mse`` maps (K, steps) to the published mean (and its interval, where given)."""

    method: str
    source: str
    learner: str | None  # the metaviz learner it should be compared with, if any
    mse: dict[tuple[int, int], tuple[float, float | None]]


PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("MAML", "Finn et al. 2017, appendix; K=10 as tabulated in CAVIA (Zintgraf 2019)", "maml",
                 {(5, 1): (0.67, None), (5, 10): (0.35, None), (10, 1): (0.435, 0.039)}),
    PublishedRow("pretrained, fine-tuned", "Finn et al. 2017, appendix", "pretrained",
                 {(5, 1): (2.41, None), (5, 10): (2.19, None)}),
    PublishedRow("Meta-SGD", "as tabulated in CAVIA (Zintgraf 2019)", None,
                 {(5, 1): (0.48, None), (10, 1): (0.26, None)}),
    PublishedRow("predict the mean curve (-1.62 cos x)", "analytic", None,
                 {(k, s): (3.00, None) for k in (5, 10, 20) for s in (1, 10)}),
    PublishedRow("predict zero", "analytic", None,
                 {(k, s): (4.25, None) for k in (5, 10, 20) for s in (1, 10)}),
)
