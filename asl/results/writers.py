"""``tables.md`` and ``summary.csv`` of a results tree: accuracy with intervals and n, paired differences,
selection fire rates, and timing ratios only where the runs were timed in one invocation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from asl.results.accuracy import difference, n_text, nearest_rival, sample_counts
from asl.results.reader import load_runs
from asl.results.store import atomic_write_text
from asl.results.tables import (
    COLUMNS,
    DASH,
    Pivot,
    Row,
    by_task,
    column_name,
    coverage_text,
    csv_text,
    fmt,
    groups,
    pivot,
    ratio_rows,
    row_labels,
    summary_rows,
)

DIFF_NOTE = (
    "Differences: points of the Avg. over the samples both methods scored, with a 95% interval and p: for "
    "0/1 scores McNemar's exact test and its exact interval, else a paired bootstrap and a sign-flip test; a "
    "difference is called better/worse only when the interval excludes 0 and p < 0.05, else within noise. "
    "The nearest rival is the other method (not the baseline) whose Avg. is closest."
)
INTERVAL_NOTE = (
    "Accuracy (%) with its 95% interval (Wilson for 0/1 scores, else bootstrap; Avg.: Wilson at the "
    "average's effective sample size); n: scored samples per task and length."
)
NO_RATIO_NOTE = (
    "TTFT/TPOT ratios omitted: no run here was timed in the same invocation as a {base} run (timings of "
    "separate invocations do not compare). Efficiency is measured by `make bench-efficiency` "
    "(results/efficiency/)."
)


def accuracy_markdown(p: Pivot) -> str:
    """Cells ``60.0 [31.3, 83.2]`` (plain means for a pivot without estimates), the Avg., n and Tasks."""
    extra = p.incomplete()
    head = ["Method", *map(column_name, p.columns), "Avg.", "n", *(["Tasks"] if extra else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in p.labels:
        if label in p.estimates:
            cells = [DASH if (e := p.estimates[label].get(c)) is None else e.text() for c in p.columns]
            avg = p.averages.get(label)
            cells += [DASH if avg is None else avg.text(), n_text(sample_counts(p.scores[label]))]
        else:
            cells = [fmt(p.cells[label].get(c)) for c in p.columns] + [fmt(p.average(label)), DASH]
        if extra:
            cells.append(coverage_text(*p.coverage(label)))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_markdown(p: Pivot) -> str:
    """Plain means to two decimals with their Avg."""
    head = ["Method", *map(column_name, p.columns), "Avg."]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in p.labels:
        cells = [fmt(p.cells[label].get(c)) for c in p.columns] + [fmt(p.average(label))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _diff_text(diff: Any) -> str:
    return DASH if diff is None else f"{diff.text()} {diff.verdict}"


def differences_markdown(p: Pivot, base: str | None) -> str:
    """Per label: the paired difference of its Avg. to the baseline label and to its nearest rival."""
    if not p.scores:
        return ""
    head = ["Method", f"Δ vs {base or 'baseline'}", "nearest rival", "Δ vs rival"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in p.labels:
        if label == base:
            continue
        to_base = difference(p.scores[label], p.scores[base], p.columns) if base in p.scores else None
        rival = nearest_rival(label, p.averages, [base] if base else [])
        to_rival = difference(p.scores[label], p.scores[rival], p.columns) if rival else None
        lines.append(f"| {label} | {_diff_text(to_base)} | {rival or DASH} | {_diff_text(to_rival)} |")
    return "\n".join(lines)


def fired_cells(rows: list[Row]) -> str:
    """``3 of 12 @ 22.3``: samples where the rule fired, of those with a rule, and their mean layer."""
    fired = sum(r.cell.selection_fired for r in rows)
    total = sum(r.cell.selection_n for r in rows)
    if not total:
        return DASH
    layers = [(r.cell.selection_layer_mean, r.cell.selection_fired) for r in rows if r.cell.selection_fired]
    mean = sum(m * k for m, k in layers) / fired if fired else None
    return f"{fired} of {total}" + ("" if mean is None else f" @ {mean:.1f}")


def selection_markdown(p: Pivot, column: str) -> str:
    """Fire rate and mean selection layer per label and column (labels with a selection rule only)."""
    ruled = [label for label in p.labels if any(r.cell.selection_n for r in p.rows[label])]
    if not ruled:
        return ""
    head = ["Method", *map(column_name, p.columns), "all"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in ruled:
        rows = p.rows[label]
        cells = [fired_cells([r for r in rows if getattr(r, column) == c]) for c in p.columns]
        lines.append(f"| {label} | " + " | ".join([*cells, fired_cells(rows)]) + " |")
    return "\n".join(lines)


def dirty_note(rows: list[Row]) -> str:
    """A warning when some of the rows' runs came from a working tree with uncommitted code changes."""
    runs = {r.run_hash: r.run for r in rows if r.run is not None}
    dirty = sorted(h for h, run in runs.items() if run.dirty)
    if not dirty:
        return ""
    return (f"**Warning: {len(dirty)} of {len(runs)} runs were produced from a working tree with uncommitted "
            f"code changes** ({', '.join(dirty)}); see their run_meta.json.")  # fmt: skip


def section(model: str, bench: str, rows: list[Row], baseline: str) -> list[str]:
    """Every table of one model and benchmark."""
    column = "task" if by_task(rows) else "context_length"
    what = "Table 2 layout" if column == "task" else "mean over tasks by context length"
    p = pivot(rows, column)
    base = next((row_labels(rows)[r.run_hash] for r in rows if r.method == baseline), None)
    out = [f"## {model} / {bench}: accuracy (%), {what}", "", accuracy_markdown(p), "", INTERVAL_NOTE, ""]
    diffs = differences_markdown(p, base)
    if diffs:
        out += [f"### {model} / {bench}: paired differences of the Avg.", "", diffs, "", DIFF_NOTE, ""]
    fired = selection_markdown(p, column)
    if fired:
        out += [f"### {model} / {bench}: selection fired (k of n @ mean layer of the fired samples)", "",
                fired, ""]  # fmt: skip
    timed = False
    for field in ("ttft_s", "tpot_s"):
        sub, ratios = ratio_rows(rows, field, baseline)
        if sub:
            timed = True
            title = f"### {model} / {bench}: {field.split('_')[0].upper()} ratio to {base or baseline} (same invocation)"
            out += [title, "", ratio_markdown(pivot(sub, column, lambda r, got=ratios: got[id(r)])), ""]
    if not timed and any(r.cell.ttft_s is not None for r in rows):
        out += [NO_RATIO_NOTE.format(base=base or baseline), ""]
    note = dirty_note(rows)
    return out + ([note, ""] if note else [])


def tables_markdown(rows: list[Row], baseline: str) -> str:
    """Accuracy per model and benchmark (Table 2 layout, else by context length) with intervals, paired
    differences, selection fire rates and same-invocation TTFT/TPOT ratios."""
    out: list[str] = []
    for (model, bench), sel in groups(rows).items():
        out += section(model, bench, sel, baseline)
    return "\n".join(out)


def summary_csv(rows: list[Row]) -> str:
    """``summary.csv``: one line per row, its label, the varying parameters and the resolved config."""
    records = []
    for sel in groups(rows).values():
        labels = row_labels(sel)
        for r in sel:
            ident = {"model": r.model, "benchmark": r.benchmark, "family": r.family, "label": r.label,
                     "variant": labels[r.run_hash][len(r.label):].strip(), "method": r.method, "seed": r.seed}  # fmt: skip
            records.append({**ident, **dataclasses.asdict(r.cell), "tasks_run": r.tasks_run,
                            "tasks_total": r.tasks_total, "invocation_id": r.invocation, "run_hash": r.run_hash,
                            "run_dir": r.run_dir, "method_config": json.dumps(r.config, sort_keys=True)})  # fmt: skip
    return csv_text(records, COLUMNS)


def write_tables(results_dir: str | Path, baseline: str) -> tuple[Path, Path, str]:
    """Write ``summary.csv`` and ``tables.md`` under ``results_dir`` from its runs (files whose content
    did not change are left untouched); returns the paths and the Markdown (ValueError without a run, or
    when runs of different n would share a cell)."""
    results_dir = Path(results_dir)
    rows = summary_rows(load_runs(results_dir))
    if not rows:
        raise ValueError(f"no readable run (metrics.json) under {results_dir}")
    csv_path, md_path = results_dir / "summary.csv", results_dir / "tables.md"
    md = tables_markdown(rows, baseline)
    atomic_write_text(csv_path, summary_csv(rows))
    atomic_write_text(md_path, md + "\n")
    return csv_path, md_path, md
