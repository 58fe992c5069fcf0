"""The protocol against analytic answers, and honest counting of diverged tasks."""

import math

import pytest
import torch

from metaviz.jobs.evaluation import evaluate
from metaviz.learners import default_config, make_learner
from metaviz.protocol import diverged_mask, summarise
from metaviz.report import format_table
from metaviz.tasks import make_family


class _FixedPredictor:
    """A learner stand-in whose prediction is a fixed function of x at every step."""

    def __init__(self, function):
        self.function = function
        self.family = make_family()
        self.kind, self.iteration = "fixed", 0

    def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
        return self.function(x_query).unsqueeze(0).expand(steps + 1, *x_query.shape)


def test_predicting_zero_scores_e_a_squared_over_two():
    # E[A^2 sin^2] = E[A^2] / 2 with A ~ U[0.1, 5]: (5^3 - 0.1^3) / (3 * 4.9) / 2 = 4.2517
    result = evaluate(_FixedPredictor(torch.zeros_like), shots=(5,), steps=2, num_tasks=600)
    curve = result.curves[5]
    expected = (5**3 - 0.1**3) / (3 * 4.9) / 2
    assert abs(curve.mean[0] - expected) < 2 * curve.ci95[0]
    assert curve.ci95[0] > 0 and curve.diverged == [0, 0, 0]


def test_predicting_the_mean_curve_scores_about_three():
    mean_amplitude = (0.1 + 5.0) / 2
    mean_curve = lambda x: -(2 / math.pi) * mean_amplitude * torch.cos(x)  # noqa: E731
    curve = evaluate(_FixedPredictor(mean_curve), shots=(10,), steps=0, num_tasks=600).curves[10]
    assert curve.mean[0] < 4.0 and abs(curve.mean[0] - 3.0) < 2 * curve.ci95[0] + 0.05


def test_summary_statistics_match_a_direct_computation():
    mse = torch.tensor([[1.0, 0.5], [3.0, 0.25], [2.0, 0.25], [6.0, 1.0]])
    curve = summarise(mse, shots=5)
    assert curve.mean == pytest.approx([3.0, 0.5])
    sd = mse.std(dim=0)
    assert curve.ci95 == pytest.approx((1.96 * sd / 2).tolist())
    assert curve.median == pytest.approx([2.0, 0.25])


def test_diverged_tasks_are_counted_not_averaged_and_never_print_nan():
    mse = torch.tensor([[1.0, 1.0], [1.0, float("nan")], [1.0, float("inf")], [1.0, 500.0], [3.0, 3.0]])
    signal = torch.tensor([1.0, 1.0, 1.0, 2.0, 1.0])
    mask = diverged_mask(mse, signal)
    # 500 > 100 x max(1, 2): blown up. 3.0 is poor but not diverged.
    assert mask.tolist() == [[False, False], [False, True], [False, True], [False, True], [False, False]]
    assert not diverged_mask(torch.tensor([[0.5, 150.0]]), torch.tensor([2.0])).any()
    curve = summarise(mse, shots=5, diverged=mask)
    assert curve.diverged == [0, 3]
    assert curve.mean == pytest.approx([1.4, 2.0])
    assert math.isfinite(curve.median[1])


def test_table_reports_divergences_and_no_nan():
    learner = make_learner(default_config("maml"))
    result = evaluate(learner, shots=(5,), steps=3, num_tasks=20, lr=1e4)
    table = format_table(result)
    assert "nan" not in table.lower()
    assert "diverged" in table and "median" in table
    assert result.curves[5].diverged[3] > 0


def test_the_same_seed_gives_the_same_numbers_and_bad_arguments_fail():
    learner = make_learner(default_config("multitask", pool_size=10, meta_batch=10))
    a = evaluate(learner, shots=(2, 5), steps=2, num_tasks=30, seed=4)
    b = evaluate(learner, shots=(2, 5), steps=2, num_tasks=30, seed=4)
    assert a.to_dict() == b.to_dict()
    with pytest.raises(ValueError, match="steps"):
        evaluate(learner, steps=-1)
    with pytest.raises(ValueError, match="shots"):
        evaluate(learner, shots=(0,))


def test_trajectory_mse_is_the_per_task_mse_of_every_step():
    from metaviz.nets import per_task_mse, trajectory_mse

    g = torch.Generator().manual_seed(0)
    predictions, target = torch.randn(4, 3, 7, 1, generator=g), torch.randn(3, 7, 1, generator=g)
    expected = torch.stack([per_task_mse(p, target) for p in predictions], dim=1)
    assert torch.allclose(trajectory_mse(predictions, target), expected)


def test_csv_rows_are_the_curves_and_numbers_read_alike():
    import csv
    import io

    from metaviz.report import CSV_COLUMNS, curves_csv, format_number, protocol_text

    result = evaluate(_FixedPredictor(torch.zeros_like), shots=(5, 10), steps=2, num_tasks=10, name="zero")
    rows = list(csv.reader(io.StringIO(curves_csv([result]))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 1 + 2 * 3
    for learner, k, step, mean, ci95, median, diverged in rows[1:]:
        curve = result.curves[int(k)]
        assert learner == "zero"
        assert float(mean) == curve.mean[int(step)] and float(ci95) == curve.ci95[int(step)]
        assert float(median) == curve.median[int(step)] and int(diverged) == curve.diverged[int(step)]
    assert (format_number(0.012345), format_number(0.0012345), format_number(0)) == ("0.0123", "1.23e-03", "0.0000")
    assert protocol_text([result]).startswith(f"10 held-out sinusoid tasks (seed {result.seed}), 100 query points")
