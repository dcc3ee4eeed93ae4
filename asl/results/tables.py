"""Tables from run summaries alone (no model): summary rows, ``summary.csv`` and ``tables.md``.

``metrics.json`` (:class:`RunSummary` cells, read through :mod:`asl.results.reader`) is the only source.
Every row is labelled and ordered by its method object rebuilt from the recorded config
(:meth:`PruningMethod.display`); rows of one method that differ in a hyper-parameter (or seed) get it
appended to the label, and a run that skipped tasks says so ("n of N tasks").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from asl.methods.base import Display
from asl.results.paper import table2_columns
from asl.results.reader import RunResult, load_runs
from asl.results.schema import CellSummary, RunSummary
from asl.results.store import atomic_write_text
from asl.results.variants import method_params, params_key, value_key, variant_label, varying_keys

CELL_FIELDS = [f.name for f in dataclasses.fields(CellSummary)]
IDENTITY = ["model", "benchmark", "family", "label", "variant", "method", "seed"]
COLUMNS = [*IDENTITY, *CELL_FIELDS, "tasks_run", "tasks_total", "run_hash", "run_dir", "method_config"]
DASH = "–"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Row:
    """One summary row: a run's aggregates at one task and context length, with the run's identity."""

    model: str
    benchmark: str
    family: str
    method: str  # the recorded config's name
    display: Display
    config: dict[str, Any] = field(repr=False)  # the recorded resolved method config (with ``_target_``)
    seed: int
    run_hash: str
    run_dir: str
    cell: CellSummary
    tasks_run: int
    tasks_total: int

    @property
    def label(self) -> str:
        """The method's display label."""
        return self.display.label

    @property
    def params(self) -> dict[str, Any]:
        """Hyper-parameters that tell runs of one label apart (the config's, and the seed)."""
        return {**method_params(self.config), "seed": self.seed}

    @property
    def task(self) -> str:
        return self.cell.task

    @property
    def context_length(self) -> int | None:
        return self.cell.context_length

    @property
    def accuracy(self) -> float | None:
        return self.cell.accuracy

    @property
    def kv_budget(self) -> Any:
        """The method's KV budget (None for methods without one)."""
        return self.config.get("kv_budget")


def task_coverage(summary: RunSummary) -> tuple[int, int]:
    """(tasks run, tasks run + tasks skipped) of a run."""
    ran = {c.task for c in summary.tasks}
    skipped = {str(s.get("task")) for s in summary.skipped_tasks} - ran
    return len(ran), len(ran) + len(skipped)


def coverage_text(ran: int, total: int) -> str:
    """``11 of 13 tasks``."""
    return f"{ran} of {total} tasks"


def unique_settings(runs: Iterable[RunResult]) -> list[RunResult]:
    """One run per (model, benchmark, method config, seed): the one with most samples (runs that differ
    only in other benchmark settings would otherwise share a table row)."""
    best: dict[str, RunResult] = {}
    for run in runs:
        s = run.summary
        key = json.dumps([s.model, s.benchmark, s.method, s.seed], sort_keys=True, default=str)
        old = best.get(key)
        if old is not None:
            keep, drop = (old, run) if old.summary.overall.n >= s.overall.n else (run, old)
            _warn(f"{drop.run_dir} and {keep.run_dir} share a table row; {keep.run_dir} kept")
            run = keep
        best[key] = run
    return list(best.values())


def run_rows(run: RunResult, display: Display) -> list[Row]:
    """The rows of one run, one per (task, context length) cell of its summary."""
    s = run.summary
    ran, total = task_coverage(s)
    return [
        Row(s.model, s.benchmark, s.family, str(s.method.get("name", "")), display, dict(s.method), s.seed,
            s.run_hash, str(run.run_dir), cell, ran, total)
        for cell in s.cells
    ]  # fmt: skip


def row_order(row: Row) -> tuple:
    """Model, benchmark, the method's display order, its parameters, task, context length."""
    return (row.model, row.benchmark, row.display.order, row.label, params_key(row.params), row.task,
            row.context_length or 0)  # fmt: skip


def summary_rows(runs: Iterable[RunResult]) -> list[Row]:
    """All rows of ``runs`` in table order; a run whose method cannot be rebuilt is skipped with a warning."""
    rows: list[Row] = []
    for run in unique_settings(runs):
        try:
            display = run.display
        except (ValueError, TypeError) as exc:
            _warn(f"{run.run_dir}: skipped ({str(exc).splitlines()[0]})")
            continue
        rows += run_rows(run, display)
    return sorted(rows, key=row_order)


def row_labels(rows: list[Row]) -> dict[str, str]:
    """Run hash -> display label, with the parameters that vary among runs of that label appended."""
    varying = varying_keys((r.label, r.params) for r in rows)
    return {r.run_hash: variant_label(r.label, r.params, varying[r.label]) for r in rows}


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return fmean(vals) if vals else None


def task_mean(
    rows: Iterable[Row], value: Callable[[Row], float | None] = lambda r: r.accuracy
) -> float | None:
    """Mean over tasks of each task's mean over its cells (the paper's "Avg.")."""
    by_task: dict[str, list[float | None]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(value(row))
    return _mean(_mean(v) for v in by_task.values())


def by_task(rows: Iterable[Row]) -> bool:
    """True when the rows hold InfiniteBench tasks (the paper's Table 2 columns): the Table 2 layout."""
    columns = table2_columns()
    return any(r.task in columns for r in rows)


def task_order(tasks: Iterable[str]) -> list[str]:
    """Tasks in the paper's Table 2 order, then the others alphabetically."""
    paper = list(table2_columns())
    return sorted(set(tasks), key=lambda t: (paper.index(t) if t in paper else len(paper), t))


@dataclass
class Pivot:
    """Labels x columns (tasks or context lengths) of mean values, with each label's rows."""

    labels: list[str]
    columns: list[Any]
    cells: dict[str, dict[Any, float | None]]
    rows: dict[str, list[Row]]

    def average(self, label: str) -> float | None:
        """Unweighted mean over the label's columns."""
        return _mean(self.cells[label].get(c) for c in self.columns)

    def coverage(self, label: str) -> tuple[int, int]:
        """(tasks run, tasks total) of the label's runs (the smallest coverage among them)."""
        return min(((r.tasks_run, r.tasks_total) for r in self.rows[label]), key=lambda c: c[0] - c[1])

    def incomplete(self) -> bool:
        """True when some label's runs skipped tasks."""
        return any(ran < total for ran, total in map(self.coverage, self.labels))


def pivot(rows: list[Row], column: str, value: Callable[[Row], float | None] = lambda r: r.accuracy) -> Pivot:
    """Mean ``value`` per (label, ``column``) over ``rows`` (one model and benchmark), labels in row order."""
    labels = row_labels(rows)
    found: dict[str, dict[Any, list[float | None]]] = {}
    members: dict[str, list[Row]] = {}
    for row in rows:
        label = labels[row.run_hash]
        found.setdefault(label, {}).setdefault(getattr(row, column), []).append(value(row))
        members.setdefault(label, []).append(row)
    cols = {c for cells in found.values() for c in cells}
    columns = task_order(cols) if column == "task" else sorted(cols, key=value_key)
    cells = {label: {c: _mean(v) for c, v in got.items()} for label, got in found.items()}
    return Pivot(list(found), columns, cells, members)


def fmt(value: float | None, digits: int = 2) -> str:
    """A number, or a dash for none."""
    return DASH if value is None else f"{value:.{digits}f}"


def column_name(column: Any) -> str:
    """The paper's name of a task column (``Retr.PassKey``), else the column itself."""
    return str(table2_columns().get(column, column))


def markdown_table(p: Pivot, digits: int = 2) -> str:
    """A Markdown table with an unweighted ``Avg.`` column, and ``Tasks`` when a run skipped some."""
    extra = p.incomplete()
    head = ["Method", *map(column_name, p.columns), "Avg.", *(["Tasks"] if extra else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in p.labels:
        cells = [fmt(p.cells[label].get(c), digits) for c in p.columns] + [fmt(p.average(label), digits)]
        if extra:
            cells.append(coverage_text(*p.coverage(label)))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_rows(rows: list[Row], field: str, baseline: str) -> tuple[list[Row], dict[int, float]]:
    """Rows other than the ``baseline`` method's with a ratio of ``field`` to the baseline at the same
    model, benchmark, task and length; returns them and ``id(row) -> ratio``."""
    base: dict[tuple, list[float]] = {}
    for r in rows:
        if r.method == baseline and getattr(r.cell, field) is not None:
            base.setdefault((r.model, r.benchmark, r.task, r.context_length), []).append(
                getattr(r.cell, field)
            )
    out, ratios = [], {}
    for r in rows:
        ref = _mean(base.get((r.model, r.benchmark, r.task, r.context_length), []))
        mine = getattr(r.cell, field)
        if r.method != baseline and ref and mine is not None:
            out.append(r)
            ratios[id(r)] = mine / ref
    return out, ratios


def groups(rows: list[Row]) -> dict[tuple[str, str], list[Row]]:
    """Rows by (model, benchmark), in row order."""
    out: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        out.setdefault((r.model, r.benchmark), []).append(r)
    return out


def tables_markdown(rows: list[Row], baseline: str) -> str:
    """Accuracy per model and benchmark (Table 2 layout, else by context length) and TTFT/TPOT ratios."""
    out: list[str] = []
    for (model, bench), sel in groups(rows).items():
        column = "task" if by_task(sel) else "context_length"
        title = (
            "accuracy, Table 2 layout" if column == "task" else "accuracy (mean over tasks) by context length"
        )
        out += [f"## {model} / {bench}: {title}", "", markdown_table(pivot(sel, column)), ""]
        base_label = next((r.label for r in sel if r.method == baseline), baseline)
        for field_name in ("ttft_s", "tpot_s"):
            sub, ratios = ratio_rows(sel, field_name, baseline)
            if sub:
                head = f"## {model} / {bench}: {field_name.split('_')[0].upper()} ratio to {base_label}"
                out += [head, "", markdown_table(pivot(sub, column, lambda r, got=ratios: got[id(r)])), ""]
    return "\n".join(out)


def csv_text(records: Iterable[dict[str, Any]], columns: list[str]) -> str:
    """CSV text of dict records (missing keys empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def summary_csv(rows: list[Row]) -> str:
    """``summary.csv``: one line per row, its label, the varying parameters and the resolved config."""
    records = []
    for sel in groups(rows).values():
        labels = row_labels(sel)
        for r in sel:
            ident = {"model": r.model, "benchmark": r.benchmark, "family": r.family, "label": r.label,
                     "variant": labels[r.run_hash][len(r.label):].strip(), "method": r.method, "seed": r.seed}  # fmt: skip
            records.append({**ident, **dataclasses.asdict(r.cell), "tasks_run": r.tasks_run,
                            "tasks_total": r.tasks_total, "run_hash": r.run_hash, "run_dir": r.run_dir,
                            "method_config": json.dumps(r.config, sort_keys=True)})  # fmt: skip
    return csv_text(records, COLUMNS)


def write_tables(results_dir: str | Path, baseline: str) -> tuple[Path, Path, str]:
    """Write ``summary.csv`` and ``tables.md`` under ``results_dir`` from its runs; returns the paths and the
    Markdown (ValueError when there is no readable run)."""
    results_dir = Path(results_dir)
    rows = summary_rows(load_runs(results_dir))
    if not rows:
        raise ValueError(f"no readable run (metrics.json) under {results_dir}")
    csv_path, md_path = results_dir / "summary.csv", results_dir / "tables.md"
    md = tables_markdown(rows, baseline)
    atomic_write_text(csv_path, summary_csv(rows))
    atomic_write_text(md_path, md + "\n")
    return csv_path, md_path, md
