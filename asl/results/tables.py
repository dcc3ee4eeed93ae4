"""Tables from run directories alone (no model): summary rows, pivots, ``summary.csv`` and ``tables.md``.

Rows are the cells of each run's ``metrics.json`` (:class:`RunSummary`, read through
:mod:`asl.results.reader`); accuracy cells carry their 95% interval and n, computed from the runs'
records (:mod:`asl.results.accuracy`). Every row is labelled and ordered by its method object rebuilt from
the recorded config (:meth:`PruningMethod.display`); rows of one method that differ in a hyper-parameter
(or seed) get it appended to the label, and a run that skipped tasks says so ("n of N tasks").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from asl.methods.base import Display
from asl.results.accuracy import LabelScores, average_estimate, cell_estimate, gather
from asl.results.paper import table2_columns
from asl.results.reader import RunResult
from asl.results.schema import CellSummary, RunSummary
from asl.results.stats import Estimate
from asl.results.variants import method_params, params_key, value_key, variant_label, varying_keys

CELL_FIELDS = [f.name for f in dataclasses.fields(CellSummary)]
IDENTITY = ["model", "benchmark", "family", "label", "variant", "method", "seed"]
COLUMNS = [*IDENTITY, *CELL_FIELDS, "tasks_run", "tasks_total", "invocation_id", "run_hash", "run_dir",
           "method_config"]  # fmt: skip
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
    invocation: str | None = None  # the invocation that timed every sample of the run (None: several)
    run: RunResult | None = field(default=None, repr=False, compare=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)  # the run's model settings

    @property
    def label(self) -> str:
        """The method's display label."""
        return self.display.label

    @property
    def params(self) -> dict[str, Any]:
        """Hyper-parameters that tell runs of one label apart (the config's, the seed, and the model
        settings of the run identity such as dtype: runs that differ there are never one row)."""
        return {**method_params(self.config), "seed": self.seed, **self.settings}

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

    def timings(self) -> list[tuple[str | None, CellSummary]]:
        """(invocation, cell) of this row's cell in its run and in every copy of the run (the same
        configuration run again elsewhere, e.g. by another experiment sharing it)."""
        out = [(self.invocation, self.cell)]
        for copy in self.run.copies if self.run is not None else []:
            s = copy.summary
            out += [(s.invocation_id, c) for c in s.cells
                    if (c.task, c.context_length) == (self.task, self.context_length)]  # fmt: skip
        return out


def task_coverage(summary: RunSummary) -> tuple[int, int]:
    """(tasks run, tasks run + tasks skipped) of a run."""
    ran = {c.task for c in summary.tasks}
    skipped = {str(s.get("task")) for s in summary.skipped_tasks} - ran
    return len(ran), len(ran) + len(skipped)


def coverage_text(ran: int, total: int) -> str:
    """``11 of 13 tasks``."""
    return f"{ran} of {total} tasks"


def unique_settings(runs: Iterable[RunResult]) -> list[RunResult]:
    """One run per (model, benchmark, method config, seed): the one with most samples, with a warning
    (runs that differ only in other benchmark settings, e.g. num_samples, would otherwise share a row)."""
    best: dict[str, RunResult] = {}
    for run in runs:
        s = run.summary
        key = json.dumps([s.model, s.benchmark, s.method, s.seed, s.settings], sort_keys=True, default=str)
        old = best.get(key)
        if old is not None:
            keep, drop = (old, run) if old.summary.overall.n >= s.overall.n else (run, old)
            _warn(f"{drop.run_dir} (n={drop.summary.overall.n}) and {keep.run_dir} (n={keep.summary.overall.n}) "
                  f"share a table row; only {keep.run_dir} is shown (runs of different n are never merged)")  # fmt: skip
            run = keep
        best[key] = run
    return list(best.values())


def run_rows(run: RunResult, display: Display) -> list[Row]:
    """The rows of one run, one per (task, context length) cell of its summary."""
    s = run.summary
    ran, total = task_coverage(s)
    return [
        Row(s.model, s.benchmark, s.family, str(s.method.get("name", "")), display, dict(s.method), s.seed,
            s.run_hash, str(run.run_dir), cell, ran, total, s.invocation_id, run, dict(s.settings))
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
    """Labels x columns (tasks or context lengths) with each label's rows; accuracy pivots hold estimates
    (value, 95% interval, n) per cell and for the Avg., other pivots plain means."""

    labels: list[str]
    columns: list[Any]
    cells: dict[str, dict[Any, float | None]]
    rows: dict[str, list[Row]]
    estimates: dict[str, dict[Any, Estimate | None]] = field(default_factory=dict)
    averages: dict[str, Estimate | None] = field(default_factory=dict)
    scores: dict[str, LabelScores] = field(default_factory=dict)

    def average(self, label: str) -> float | None:
        """The Avg.: the mean over the label's columns (equal weights)."""
        if label in self.averages:
            est = self.averages[label]
            return None if est is None else est.value
        return _mean(self.cells[label].get(c) for c in self.columns)

    def coverage(self, label: str) -> tuple[int, int]:
        """(tasks run, tasks total) of the label's runs (the smallest coverage among them)."""
        return min(((r.tasks_run, r.tasks_total) for r in self.rows[label]), key=lambda c: c[0] - c[1])

    def incomplete(self) -> bool:
        """True when some label's runs skipped tasks."""
        return any(ran < total for ran, total in map(self.coverage, self.labels))


def pivot(rows: list[Row], column: str, value: Callable[[Row], float | None] | None = None) -> Pivot:
    """Per (label, ``column``) over ``rows`` (one model and benchmark), labels in row order: accuracy
    estimates from the runs' records (default), or the mean of ``value`` over the rows."""
    labels = row_labels(rows)
    found: dict[str, dict[Any, list[float | None]]] = {}
    members: dict[str, list[Row]] = {}
    for row in rows:
        label = labels[row.run_hash]
        got = value(row) if value is not None else row.accuracy
        found.setdefault(label, {}).setdefault(getattr(row, column), []).append(got)
        members.setdefault(label, []).append(row)
    cols = {c for cells in found.values() for c in cells}
    columns = task_order(cols) if column == "task" else sorted(cols, key=value_key)
    cells = {label: {c: _mean(v) for c, v in got.items()} for label, got in found.items()}
    out = Pivot(list(found), columns, cells, members)
    if value is None and all(r.run is not None for r in rows):
        for label in out.labels:
            scores = out.scores[label] = gather(members[label], column)
            out.estimates[label] = {c: cell_estimate(scores.columns[c]) if c in scores.columns else None
                                    for c in columns}  # fmt: skip
            out.averages[label] = average_estimate(scores, columns)
            out.cells[label] = {c: None if e is None else e.value for c, e in out.estimates[label].items()}
    return out


def fmt(value: float | None, digits: int = 2) -> str:
    """A number, or a dash for none."""
    return DASH if value is None else f"{value:.{digits}f}"


def column_name(column: Any) -> str:
    """The paper's name of a task column (``Retr.PassKey``), else the column itself."""
    return str(table2_columns().get(column, column))


def ratio_rows(rows: list[Row], field: str, baseline: str) -> tuple[list[Row], dict[int, float]]:
    """Rows other than the ``baseline`` method's with a ratio of ``field`` to the baseline at the same
    model, benchmark, task and length, timed in the same invocation (timings of separate invocations do
    not compare: load, thermal state and warm caches differ); a configuration run in several invocations
    (its run's ``copies``) gets the mean of its per-invocation ratios. Returns the rows and
    ``id(row) -> ratio``."""
    base: dict[tuple, list[float]] = {}

    def key(r: Row, invocation: str | None) -> tuple:
        return (r.model, r.benchmark, r.task, r.context_length, invocation)

    for r in rows:
        if r.method == baseline:
            for invocation, cell in r.timings():
                if invocation is not None and getattr(cell, field) is not None:
                    base.setdefault(key(r, invocation), []).append(getattr(cell, field))
    out, ratios = [], {}
    for r in rows:
        if r.method == baseline:
            continue
        mine = []
        for invocation, cell in r.timings():
            ref = _mean(base.get(key(r, invocation), []))  # no baseline is keyed by a None invocation
            if ref and getattr(cell, field) is not None:
                mine.append(getattr(cell, field) / ref)
        if mine:
            out.append(r)
            ratios[id(r)] = _mean(mine)
    return out, ratios


def groups(rows: list[Row]) -> dict[tuple[str, str], list[Row]]:
    """Rows by (model, benchmark), in row order."""
    out: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        out.setdefault((r.model, r.benchmark), []).append(r)
    return out


def csv_text(records: Iterable[dict[str, Any]], columns: list[str]) -> str:
    """CSV text of dict records (missing keys empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()
