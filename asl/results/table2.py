"""The one Table 2 writer: InfiniteBench accuracy per method and task for a model, as CSV, Markdown and
LaTeX, ours (with 95% intervals and n) beside the paper's (matched by display label) with the differences,
then the paired differences between our methods and the same-invocation TTFT ratio to Full KV.

``reproduce_table2`` writes it under ``results/table2/<model>/`` and the figures under
``results/figures/<model>/``; both hand it summary rows (:mod:`asl.results.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asl.results.accuracy import n_text, sample_counts
from asl.results.multiplicity import Family
from asl.results.paper import SOURCE, paper_table2, table2_columns
from asl.results.stats import Estimate
from asl.results.store import atomic_write_text
from asl.results.timing import TIMING_FILE, TimingRatio, read_timing
from asl.results.tables import (
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
)
from asl.results.writers import DIFF_NOTE, differences_markdown, dirty_note

AVG = "avg"


@dataclass
class Line:
    """One method row of Table 2: ours, and the paper's with ours - paper where the paper has the label."""

    label: str
    setting: str
    ours: dict[str, float | None]  # task -> accuracy, and "avg"
    paper: dict[str, float | None] | None
    coverage: tuple[int, int]
    estimates: dict[str, Estimate | None] | None = None  # task -> ours with its interval, and "avg"
    n: str = ""  # scored samples per task ("12", or "5–12")
    ttft_ratio: float | None = None  # TTFT / Full KV from the interleaved timing measurement (timing.csv)

    @property
    def diff(self) -> dict[str, float | None] | None:
        """ours - paper per column (None where either is missing)."""
        if self.paper is None:
            return None
        return {
            k: None if self.ours[k] is None or v is None else self.ours[k] - v for k, v in self.paper.items()
        }


@dataclass
class Table2:
    """Table 2 of one model on one benchmark."""

    model: str
    benchmark: str
    tasks: list[str]
    lines: list[Line]
    paper_avg_recomputed: bool  # the paper averages its 10 tasks; here over each row's tasks (if it has them)
    note: str = ""
    differences: str = ""  # the paired-differences Markdown table
    dirty: str = ""  # a warning when runs came from a working tree with uncommitted changes
    timing_source: str = ""  # where the TTFT / Full column comes from (timing.csv), empty when absent

    @property
    def has_paper(self) -> bool:
        return any(line.paper is not None for line in self.lines)

    @property
    def incomplete(self) -> bool:
        return any(ran < total for ran, total in (line.coverage for line in self.lines))


def setting(rows: list[Row]) -> str:
    """``KV = 2048``, or ``KV = Full`` for a method without a KV budget."""
    budgets = sorted({str(r.kv_budget) for r in rows if r.kv_budget is not None})
    return f"KV = {'/'.join(budgets)}" if budgets else "KV = Full"


def timing_ratios_by_label(
    rows: list[Row], labels: dict[str, str], timing: dict[str, TimingRatio]
) -> dict[str, float]:
    """Label -> TTFT / Full KV from an interleaved timing measurement (``timing.csv``), by method name."""
    return {labels[r.run_hash]: timing[r.method].ttft_ratio for r in rows if r.method in timing}


def table2_of(
    p: Pivot, model: str, benchmark: str, paper: dict[str, dict[str, float]], note: str = "",
    ratios: dict[str, float] | None = None,
) -> Table2:  # fmt: skip
    """Table 2 from a by-task pivot, with the paper's row of each label's method where it has one."""
    complete = set(p.columns) >= set(table2_columns())
    lines, recomputed_any = [], not complete
    for label in p.labels:
        rows = p.rows[label]
        ours: dict[str, float | None] = {t: p.cells[label].get(t) for t in p.columns}
        ours[AVG] = p.average(label)
        estimates = {**p.estimates[label], AVG: p.averages[label]} if label in p.estimates else None
        ref = paper.get(rows[0].label)
        theirs = None
        if ref is not None:
            theirs = {t: ref.get(t) for t in p.columns}
            ran = [t for t in p.columns if ours[t] is not None]
            values = [theirs[t] for t in ran if theirs[t] is not None]
            recomputed = sum(values) / len(values) if values and len(values) == len(ran) else None
            theirs[AVG] = ref.get(AVG) if complete and len(ran) == len(p.columns) else recomputed
            recomputed_any |= len(ran) < len(p.columns)
        n = n_text(sample_counts(p.scores[label])) if label in p.scores else ""
        ratio = (ratios or {}).get(label)
        lines.append(Line(label, setting(rows), ours, theirs, p.coverage(label), estimates, n, ratio))
    return Table2(model, benchmark, list(p.columns), lines, recomputed_any, note)


def build_table2(
    rows: list[Row],
    model: str,
    note: str = "",
    baseline: str = "fullkv",
    families: list[Family] | None = None,
    timing: dict[str, TimingRatio] | None = None,
) -> list[Table2]:
    """Table 2 of ``model`` for each of its benchmarks in the Table 2 layout (InfiniteBench tasks); ``note``
    is printed under each table; differences are taken to the ``baseline`` method; the TTFT / Full column
    comes from ``timing`` (an interleaved measurement, :mod:`asl.results.timing`) when given."""
    from asl.results.tables import row_labels

    paper = paper_table2(model)
    out = []
    for (m, bench), sel in groups(rows).items():
        if m == model and by_task(sel):
            labels = row_labels(sel)
            p = pivot(sel, "task")
            table = table2_of(p, model, bench, paper, note, timing_ratios_by_label(sel, labels, timing or {}))
            table.timing_source = next(iter((timing or {}).values())).source if timing else ""
            base = next((labels[r.run_hash] for r in sel if r.method == baseline), None)
            table.differences = differences_markdown(p, base, families)
            table.dirty = dirty_note(sel)
            out.append(table)
    return out


def _columns(t: Table2) -> list[str]:
    return [*t.tasks, AVG]


def table2_csv(tables: list[Table2]) -> str:
    """One line per method and source (ours, paper, diff), tasks as columns."""
    tasks = list(dict.fromkeys(task for t in tables for task in t.tasks))
    records: list[dict[str, Any]] = []
    for t in tables:
        for line in t.lines:
            base = {"model": t.model, "benchmark": t.benchmark, "label": line.label, "setting": line.setting,
                    "tasks_run": line.coverage[0], "tasks_total": line.coverage[1]}  # fmt: skip
            records.append({**base, "source": "ours", **line.ours})
            if line.estimates is not None:
                for bound in ("lo", "hi"):
                    values = {k: None if e is None else getattr(e, bound) for k, e in line.estimates.items()}
                    records.append({**base, "source": f"ours_ci95_{bound}", **values})
            if line.paper is not None:
                records.append({**base, "source": "paper", **line.paper})
                records.append({**base, "source": "diff", **(line.diff or {})})
    head = ["model", "benchmark", "label", "setting", "source", *tasks, AVG, "tasks_run", "tasks_total"]
    return csv_text(records, head)


def _best(t: Table2) -> dict[str, float | None]:
    """Best of ours per column (rounded as printed)."""
    out: dict[str, float | None] = {}
    for col in _columns(t):
        vals = [round(v, 1) for line in t.lines if (v := line.ours[col]) is not None]
        out[col] = max(vals) if vals else None
    return out


def _signed(value: float | None) -> str:
    return DASH if value is None else f"{value:+.1f}"


def _notes(t: Table2) -> list[str]:
    notes = [
        "Ours: accuracy (%) with its 95% interval (Wilson for 0/1 scores, else t; Avg.: MOVER over the "
        "tasks' intervals); SE: the Avg.'s standard error; n: scored samples per task; n_eff: the Avg.'s "
        "effective sample size. Best of ours per column in bold (see the paired "
        "differences for which gaps exceed the noise)."
    ]
    if t.has_paper:
        notes.append(f"Paper: {SOURCE}, Table 2; cells are ours / paper (ours − paper).")
        if t.paper_avg_recomputed:
            notes.append(
                "The paper's Avg. is recomputed over the tasks each row ran (the paper averages all 10), "
                "where the paper has them all."
            )
    else:
        notes.append(f"No paper numbers for {t.model}.")
    if t.incomplete:
        notes.append("Tasks: a run that skipped tasks averages over the tasks it ran.")
    if any(line.ttft_ratio is not None for line in t.lines):
        notes.append(f"TTFT / Full: from {t.timing_source} (`{TIMING_FILE}`), not from the accuracy runs.")
    elif t.lines:
        notes.append(
            f"TTFT ratios omitted: no interleaved timing (`make bench-sharing` writes `{TIMING_FILE}` next to "
            "this table); accuracy runs executed one after another, or sharing a prefill, time no method fairly."
        )
    return [*notes, t.note] if t.note else notes


def _cell(line: Line, col: str, best: float | None, bold: str, paper: str, interval: str) -> str:
    ours = line.ours[col]
    text = fmt(ours, 1)
    if ours is not None and best is not None and round(ours, 1) == best:
        text = bold.format(text)
    est = (line.estimates or {}).get(col)
    if est is not None:
        text += interval.format(f"{est.lo:.1f}", f"{est.hi:.1f}")
    if line.paper is None or line.paper[col] is None:
        return text
    return text + paper.format(fmt(line.paper[col], 1), _signed((line.diff or {})[col]))


def _extra_head(t: Table2) -> list[str]:
    timed = any(line.ttft_ratio is not None for line in t.lines)
    return ["SE", "n", "n_eff", *(["TTFT / Full"] if timed else []), *(["Tasks"] if t.incomplete else [])]


def _extra_cells(t: Table2, line: Line) -> list[str]:
    timed = any(x.ttft_ratio is not None for x in t.lines)
    avg = (line.estimates or {}).get(AVG)
    se = DASH if avg is None or avg.se is None else f"{avg.se:.1f}"
    n_eff = DASH if avg is None or avg.n_eff is None else f"{avg.n_eff:.0f}"
    cells = [se, line.n or DASH, n_eff, *([fmt(line.ttft_ratio)] if timed else [])]
    return cells + ([coverage_text(*line.coverage)] if t.incomplete else [])


def table2_markdown(tables: list[Table2]) -> str:
    """Markdown sections, one per benchmark."""
    out: list[str] = []
    for t in tables:
        best = _best(t)
        head = ["Setting", "Method", *map(column_name, t.tasks), "Avg.", *_extra_head(t)]
        out += [f"## Table 2 ({t.model}, {t.benchmark}): InfiniteBench accuracy (%)", ""]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for line in t.lines:
            cells = [_cell(line, c, best[c], "**{}**", " / {} ({})", " [{}, {}]") for c in _columns(t)]
            out.append("| " + " | ".join([line.setting, line.label, *cells, *_extra_cells(t, line)]) + " |")
        out += ["", " ".join(_notes(t)), ""]
        if t.differences:
            out += [f"### Paired differences of the Avg. ({t.model}, {t.benchmark})", "", t.differences, "",
                    DIFF_NOTE, ""]  # fmt: skip
        if t.dirty:
            out += [t.dirty, ""]
    return "\n".join(out)


def tex(text: str) -> str:
    """Escape LaTeX specials in plain text."""
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(a, b)
    return text.replace("τ", r"$\tau$").replace("−", "-")


def table2_latex(tables: list[Table2]) -> str:
    """A booktabs ``table*`` per benchmark: ours, the paper's value and the difference in small type."""
    out = [r"% Generated by asl.results.table2; requires \usepackage{booktabs}."]
    for t in tables:
        best = _best(t)
        head = ["Setting", "Method", *map(column_name, t.tasks), "Avg.", *_extra_head(t)]
        out += [r"\begin{table*}[t]", r"\centering\scriptsize", r"\setlength{\tabcolsep}{3pt}"]
        out += [r"\begin{tabular}{ll" + "r" * (len(head) - 2) + "}", r"\toprule"]
        out += [" & ".join(tex(h) for h in head) + r" \\", r"\midrule"]
        for line in t.lines:
            cells = [_cell(line, c, best[c], r"\textbf{{{}}}", r" {{\tiny({}, {})}}", r" {{\tiny[{}, {}]}}")
                     for c in _columns(t)]  # fmt: skip
            extra = [tex(c) for c in _extra_cells(t, line)]
            out.append(" & ".join([tex(line.setting), tex(line.label), *cells, *extra]) + r" \\")
        caption = f"InfiniteBench accuracy (%), {t.model}, {t.benchmark}. " + " ".join(_notes(t))
        if t.dirty:
            caption += " " + t.dirty.replace("**", "")
        out += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{tex(caption)}}}", r"\end{table*}"]
    return "\n".join(out) + "\n"


def write_table2(
    rows: list[Row], model: str, out_dir: str | Path, note: str = "", baseline: str = "fullkv",
    families: list[Family] | None = None,
) -> list[Path]:  # fmt: skip
    """Write ``table2.csv``, ``table2.md`` and ``table2.tex`` for ``model`` under ``out_dir`` (files whose
    content is unchanged are left untouched); nothing (an empty list) when ``rows`` hold no InfiniteBench
    results of that model."""
    tables = build_table2(rows, model, note, baseline, families, read_timing(Path(out_dir) / TIMING_FILE))
    if not tables:
        return []
    out_dir = Path(out_dir)
    texts = {
        "table2.csv": table2_csv(tables),
        "table2.md": table2_markdown(tables),
        "table2.tex": table2_latex(tables),
    }
    for name, text in texts.items():
        atomic_write_text(out_dir / name, text)
    return [out_dir / name for name in texts]
