"""Every text format of evaluation results in one place: the CLI's table, Markdown,
CSV rows and the protocol sentence. The window's table and exports use these too, so
the numbers read alike everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from .oracle import OracleLearner, oracle_name
from .protocol import Curve, EvaluationResult
from .published import PUBLISHED
from .tasks import FAMILY_REGISTRY

TABLE_STEPS = (0, 1, 5, 10)
CSV_COLUMNS = ("learner", "K", "step", "mean", "ci95", "median", "diverged")
# Added to the CSV when a learner has a predictive distribution (per K: the same on every step row).
PREDICTIVE_COLUMNS = ("nll", "nll_ci95", "coverage", "coverage_ci95")


def format_number(value: float) -> str:
    """Four decimals, or three significant digits for values too small for that."""
    return f"{value:.4f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}"


def format_cell(mean: float, ci95: float, diverged: int = 0, num_tasks: int = 0) -> str:
    """mean +- CI, or why there is none (every task diverged)."""
    if diverged and diverged >= num_tasks:
        return "all diverged"
    cell = f"{format_number(mean)} \u00b1 {format_number(ci95)}"
    return cell + (f" ({diverged} diverged)" if diverged else "")


def published_apply(results: Sequence[EvaluationResult]) -> bool:
    """The published figures are for noise-free sinusoids with the paper's ranges: shown
    only beside results measured on such tasks."""
    paper = {"amp": [0.1, 5.0], "phase": [0.0, 3.141592653589793], "x": [-5.0, 5.0]}
    return all(r.task.get("family", "sinusoid") == "sinusoid" and not r.task.get("noise_std")
               and all(r.task.get("ranges", {}).get(k, v) == v for k, v in paper.items()) for r in results)


def protocol_text(results: Sequence[EvaluationResult]) -> str:
    """The protocol the numbers were measured on, as one line (stated wherever numbers are)."""
    first = results[0]
    family = first.task.get("family", "sinusoid")
    text = (f"{first.num_tasks} held-out {family} tasks (seed {first.seed}), {first.num_query} query points, "
            f"query MSE mean \u00b1 95% CI (1.96 sd/\u221an)")
    if any((r.num_tasks, r.seed, r.num_query) != (first.num_tasks, first.seed, first.num_query) for r in results):
        text += " [learners differ in protocol: see the table]"
    return text


def method_name(result: EvaluationResult, shots: Sequence[int]) -> str:
    """A row's name: the learner's; the oracle's also says what it is at the K's ``shots``
    ("best possible" only where its family declares it exact: :func:`~metaviz.oracle.oracle_name`),
    each name with its K's where they differ (e.g. exact from K = 2 on, a fit at K = 1)."""
    if result.learner != OracleLearner.kind:
        return result.learner
    family = FAMILY_REGISTRY.get(result.task.get("family", "sinusoid"))
    noise = result.task.get("noise_std", 0.0)
    by_name: dict[str, list[int]] = {}
    for k in shots:
        by_name.setdefault(oracle_name(family, k, noise), []).append(k)
    if len(by_name) == 1:
        return f"{result.learner} ({next(iter(by_name))})"
    parts = [f"{name} at K={', '.join(map(str, ks))}" for name, ks in by_name.items()]
    return f"{result.learner} ({'; '.join(parts)})"


def has_predictive(results: Sequence[EvaluationResult]) -> bool:
    """Whether any result carries NLL and coverage (a learner with a predictive distribution)."""
    return any(c.nll is not None for r in results for c in r.curves.values())


def predictive_cells(curve: Curve | None) -> list[str]:
    """[NLL, coverage] cells (mean +- CI) of a curve, or two empty cells where not defined."""
    if curve is None or curve.nll is None:
        return ["", ""]
    return [format_cell(curve.nll, curve.nll_ci95), format_cell(curve.coverage, curve.coverage_ci95)]


def predictive_text(result: EvaluationResult) -> str:
    """What the NLL and coverage were scored against, as one line."""
    noise = result.task.get("noise_std", 0.0)
    targets = f"noisy query observations (label noise std {noise:g})" if noise else "noise-free query targets"
    return f"after adaptation, on {targets}: NLL and coverage of the 95% interval (mean \u00b1 1.96 std)"


def shown_steps(steps: int) -> list[int]:
    """The table's step columns for a protocol of ``steps`` steps (always the last one)."""
    return sorted({s for s in TABLE_STEPS if s <= steps} | {steps})


def format_table(result: EvaluationResult) -> str:
    """A plain-text table: one row per K, mean +/- CI at the chosen steps (and always the
    last), divergences noted below it."""
    shown = shown_steps(result.steps)
    header = f"{'K':>3}  " + "  ".join(f"{f'step {s}':>20}" for s in shown)
    name = method_name(result, list(result.curves))
    lines = [f"{name} after {result.iteration} iterations; {protocol_text([result])}", header]
    notes = []
    for k, curve in result.curves.items():
        cells = []
        for s in shown:
            cells.append(f"{format_cell(curve.mean[s], curve.ci95[s], curve.diverged[s], curve.num_tasks):>20}")
            if curve.diverged[s]:
                notes.append(
                    f"K={k}, step {s}: {curve.diverged[s]} of {curve.num_tasks} tasks diverged "
                    f"(left out of the mean; median over all tasks {curve.median[s]:.4g})"
                )
        lines.append(f"{k:>3}  " + "  ".join(cells))
    if has_predictive([result]):
        lines.append(predictive_text(result) + ":")
        for k, curve in result.curves.items():
            nll, coverage = predictive_cells(curve)
            lines.append(f"{k:>3}  NLL {nll}   coverage {coverage}")
    return "\n".join(lines + notes)


def format_markdown(
    results: Sequence[EvaluationResult],
    columns: Sequence[tuple[int, int]] = ((5, 1), (5, 10), (10, 1), (10, 10), (20, 1), (20, 10)),
    notes: dict[str, str] | None = None,
) -> str:
    """A Markdown table: one row per result (mean +/- CI at each (K, steps) column),
    followed by the published rows of :mod:`metaviz.published` for comparison.
    ``notes`` adds text after a learner's name (e.g. its budget and wall time)."""
    notes = notes or {}
    # NLL and coverage columns per K shown, only when some learner has a predictive distribution.
    predictive_ks = sorted({k for k, _ in columns}) if has_predictive(results) else []
    names = [f"K={k}, {s} step{'s' if s != 1 else ''}" for k, s in columns]
    names += [f"K={k}, {what}" for k in predictive_ks for what in ("NLL", "coverage")]
    header = "| method | source | " + " | ".join(names) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for result in results:
        cells = []
        for k, s in columns:
            curve = result.curves.get(k)
            cells.append("-" if curve is None or s > result.steps
                         else format_cell(curve.mean[s], curve.ci95[s], curve.diverged[s], curve.num_tasks))
        for k in predictive_ks:
            cells += [cell or "-" for cell in predictive_cells(result.curves.get(k))]
        source = f"metaviz, {result.iteration} it." + (f", {notes[result.learner]}" if result.learner in notes else "")
        shown = [k for k in dict.fromkeys(k for k, _ in columns) if k in result.curves] or list(result.curves)
        lines.append(f"| {method_name(result, shown)} | {source} | " + " | ".join(cells) + " |")
    if published_apply(results):
        for row in PUBLISHED:
            cells = []
            for key in columns:
                value = row.mse.get(key)
                cells.append("-" if value is None else f"{value[0]:g}" + (f" \u00b1 {value[1]:g}" if value[1] else ""))
            cells += ["-"] * (2 * len(predictive_ks))
            lines.append(f"| {row.method} | {row.source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(results: Sequence[EvaluationResult]) -> str:
    """The protocol line, then :func:`format_markdown` at step 1 and the last step of each K."""
    steps = max(r.steps for r in results)
    columns = [(k, s) for k in sorted({k for r in results for k in r.curves}) for s in sorted({min(1, steps), steps})]
    return f"{protocol_text(results)}\n\n{format_markdown(results, columns)}\n"


def table_rows(results: Sequence[EvaluationResult]) -> tuple[list[str], list[tuple[list[str], str]]]:
    """Header and rows (cells, tooltip) of the window's table: one row per learner x K
    (mean +- CI at :func:`shown_steps`, divergences noted), then the published figures
    for the K's shown."""
    steps = shown_steps(max((r.steps for r in results), default=10))
    predictive = has_predictive(results)
    header = ["method", "K"] + [f"step {s}" for s in steps] + (["NLL", "95% coverage"] if predictive else [])
    rows = []
    for result in results:
        for k, curve in result.curves.items():
            cells = [format_cell(curve.mean[s], curve.ci95[s], curve.diverged[s], curve.num_tasks)
                     if s <= result.steps else "" for s in steps]
            tip = protocol_text([result])
            if predictive:
                cells += predictive_cells(curve)
                tip += f"; {predictive_text(result)}" if curve.nll is not None else ""
            rows.append(([method_name(result, [k]), str(k), *cells], tip))
    if published_apply(results):
        for row in PUBLISHED:
            for k in sorted({k for r in results for k in r.curves}):
                values = [row.mse.get((k, s)) for s in steps]
                if any(values):
                    cells = ["" if v is None else f"{v[0]:g}" + (f" \u00b1 {v[1]:g}" if v[1] else "") for v in values]
                    cells += ["", ""] if predictive else []
                    rows.append(([f"{row.method} (published)", str(k), *cells], row.source))
    return header, rows


def curve_rows(results: Sequence[EvaluationResult]) -> list[list]:
    """One row per (learner, K, step) in the order of :data:`CSV_COLUMNS`, followed by
    :data:`PREDICTIVE_COLUMNS` when some learner has them (None where a learner has not;
    per K, so the same on each of its step rows)."""
    predictive = has_predictive(results)
    return [[r.learner, k, s, c.mean[s], c.ci95[s], c.median[s], c.diverged[s]]
            + ([c.nll, c.nll_ci95, c.coverage, c.coverage_ci95] if predictive else [])
            for r in results for k, c in r.curves.items() for s in range(r.steps + 1)]


def curves_csv(results: Sequence[EvaluationResult]) -> str:
    """:func:`curve_rows` as CSV text with a header."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (PREDICTIVE_COLUMNS if has_predictive(results) else ()))
    writer.writerows(curve_rows(results))
    return out.getvalue()
