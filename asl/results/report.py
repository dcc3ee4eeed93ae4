"""The per-task result of one run, as ``scripts/run.py`` prints it at the end and W&B logs it.

Accuracy carries its 95% interval and n; the selection columns count fired samples over the samples of a
method with a selection rule ("3 of 12"; never fired = the rest, the same for one- and two-pass methods),
with the mean layer over the fired ones only.
"""

from __future__ import annotations

from typing import Any

from asl.results.schema import CellSummary, RunSummary

DASH = "–"


def interval_text(value: float | None, lo: float | None, hi: float | None, digits: int = 1) -> str:
    """``60.0 [31.3, 83.2]``; the value alone without an interval; a dash without a value."""
    if value is None:
        return DASH
    if lo is None or hi is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fired_text(cell: CellSummary) -> str:
    """``3 of 12`` (samples where the rule chose a layer, of those with a rule), a dash without a rule."""
    return f"{cell.selection_fired} of {cell.selection_n}" if cell.selection_n else DASH


def _num(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return DASH if value is None else f"{value * scale:.{digits}f}"


def cell_row(label: str, cell: CellSummary) -> dict[str, Any]:
    """One printed row of a cell (task or overall)."""
    return {
        "task": label,
        "n": cell.n_scored,
        "errors": cell.n_errors,
        "accuracy [95% CI]": interval_text(cell.accuracy, cell.accuracy_lo, cell.accuracy_hi),
        "fired": fired_text(cell),
        "mean layer (fired)": _num(cell.selection_layer_mean, digits=1),
        "TTFT s": _num(cell.ttft_s),
        "TPOT ms": _num(cell.tpot_s, 1e3, 1),
    }


def run_table_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """Per-task rows, then the task mean (the paper's Avg.) and the pooled overall row."""
    rows = [cell_row(c.task, c) for c in summary.tasks]
    avg = dict(cell_row("Avg. (task mean)", summary.overall))
    avg["accuracy [95% CI]"] = interval_text(summary.task_mean, summary.task_mean_lo, summary.task_mean_hi)
    return [*rows, avg]


def run_table(summary: RunSummary) -> str:
    """A Markdown table of :func:`run_table_rows` under a one-line title."""
    rows = run_table_rows(summary)
    head = list(rows[0])
    lines = [
        f"{summary.method_label} on {summary.model} / {summary.benchmark} "
        f"(run {summary.run_hash}{'' if summary.complete else ', incomplete'}):",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)
