"""``tables.md`` and ``summary.csv`` of a results tree: accuracy with intervals and n, paired differences,
selection fire rates, and timing ratios only where the runs were timed in one invocation."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asl.results.accuracy import n_text, sample_counts
from asl.results.comparisons import comparisons, comparisons_markdown
from asl.results.multiplicity import Family, parse_families
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
from asl.results.tuning import select_and_test
from asl.results.tuning import selection_markdown as tuning_markdown
from asl.results.variants import method_params

DIFF_NOTE = (
    "Differences: points of the Avg. over the samples both methods scored, with a 95% interval. 0/1 scores "
    "at equal n and weight per stratum: Newcombe's hybrid score interval and McNemar's exact test (mcnemar); "
    "otherwise MOVER over the strata's intervals (Newcombe or t) and the exact stratified sign-flip test "
    "(sign-flip; sign-flip-mc: Monte Carlo, 10^5 draws, ± its standard error). p (Holm): adjusted within the "
    "comparison's declared family (the experiment's tables.families); a difference is called better/worse "
    "only when that adjusted p < 0.05 and the interval excludes 0, else within noise. Exploratory rows (the "
    "nearest rival, chosen by the data) have no multiplicity control. discordant: pairs only A / only B got "
    "right; SE: standard error; MDD80: the smallest difference this n detects with 80% power (two-sided 5%)."
)
INTERVAL_NOTE = (
    "Accuracy (%) with its 95% interval (Wilson for 0/1 scores, else t; Avg.: MOVER over the tasks' "
    "intervals); SE: the Avg.'s standard error; n: scored samples per task and length; n_eff: the Avg.'s "
    "effective sample size."
)
SELECT_NOTE = (
    "The value is chosen by the Avg. on one seed's samples and compared with the reference value on the "
    "other seed's samples only (chosen on the data it is tested on, it would look better than it is); "
    "p (adj): Holm over the methods."
)
NO_RATIO_NOTE = (
    "TTFT/TPOT ratios omitted: no run here was timed in the same invocation as a {base} run (timings of "
    "separate invocations do not compare). Efficiency is measured by `make bench-efficiency` "
    "(results/efficiency/)."
)


def accuracy_markdown(p: Pivot) -> str:
    """Cells ``60.0 [31.3, 83.2]`` (plain means for a pivot without estimates), the Avg., n and Tasks."""
    extra = p.incomplete()
    head = ["Method", *map(column_name, p.columns), "Avg.", "SE", "n", "n_eff", *(["Tasks"] if extra else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in p.labels:
        if label in p.estimates:
            cells = [DASH if (e := p.estimates[label].get(c)) is None else e.text() for c in p.columns]
            avg = p.averages.get(label)
            cells += [DASH if avg is None else avg.text(), _se_text(avg), n_text(sample_counts(p.scores[label])),
                      DASH if avg is None or avg.n_eff is None else f"{avg.n_eff:.0f}"]  # fmt: skip
        else:
            cells = [fmt(p.cells[label].get(c)) for c in p.columns] + [
                fmt(p.average(label)),
                DASH,
                DASH,
                DASH,
            ]
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


def _se_text(est: Any) -> str:
    return DASH if est is None or est.se is None else f"{est.se:.1f}"


def differences_markdown(p: Pivot, base: str | None, families: list[Family] | None = None) -> str:
    """The declared families' paired differences of the Avg. (Holm-adjusted), then the exploratory ones."""
    if not p.scores:
        return ""
    return comparisons_markdown(
        comparisons(p, base, families if families is not None else parse_families(None))
    )


def tuning_section(
    model: str, bench: str, p: Pivot, select: Mapping[str, Any] | None, families: list[Family] | None
) -> list[str]:
    """The swept value chosen on one seed and tested on another (``tables.select``), when both ran."""
    if not select or not p.scores:
        return []
    key = str(select["key"])
    reference = next((f.reference for f in families or [] if f.kind == "levels" and f.key == key), None)
    choose_seed, test_seed = int(select["choose_seed"]), int(select["test_seed"])
    seeds = {r.seed for rows in p.rows.values() for r in rows}
    if reference is None or not {choose_seed, test_seed} <= seeds:
        return [f"{key} not selected: the sweep needs seeds {choose_seed} (choose) and {test_seed} (test); "
                f"ran {sorted(seeds)}.", ""]  # fmt: skip
    table = tuning_markdown(
        select_and_test(p, key, reference, choose_seed, test_seed), choose_seed, test_seed
    )
    return [f"### {model} / {bench}: {key} chosen on seed {choose_seed}, tested on seed {test_seed}", "", table,
            "", SELECT_NOTE, ""]  # fmt: skip


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


def substitution_note(rows: list[Row]) -> str:
    """The substitutions the rows' runs recorded (run_meta.json ``substitutions``), e.g. a fallback haystack."""
    found = sorted(
        {text for r in rows if r.run is not None for text in r.run.meta.get("substitutions") or []}
    )
    return "" if not found else "Substitutions: " + "; ".join(found) + "."


def section(
    model: str, bench: str, rows: list[Row], baseline: str, families: list[Family] | None = None,
    select: Mapping[str, Any] | None = None,
) -> list[str]:  # fmt: skip
    """Every table of one model and benchmark."""
    column = "task" if by_task(rows) else "context_length"
    what = "Table 2 layout" if column == "task" else "mean over tasks by context length"
    p = pivot(rows, column)
    base = next((row_labels(rows)[r.run_hash] for r in rows if r.method == baseline), None)
    out = [f"## {model} / {bench}: accuracy (%), {what}", "", accuracy_markdown(p), "", INTERVAL_NOTE, ""]
    diffs = differences_markdown(p, base, families)
    if diffs:
        out += [f"### {model} / {bench}: paired differences of the Avg.", "", diffs, "", DIFF_NOTE, ""]
    out += tuning_section(model, bench, p, select, families)
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
    subs = substitution_note(rows)
    return out + ([note, ""] if note else []) + ([subs, ""] if subs else [])


def tables_markdown(
    rows: list[Row],
    baseline: str,
    families: list[Family] | None = None,
    select: Mapping[str, Any] | None = None,
) -> str:
    """Accuracy per model and benchmark (Table 2 layout, else by context length) with intervals, paired
    differences, selection fire rates and same-invocation TTFT/TPOT ratios."""
    out: list[str] = []
    for (model, bench), sel in groups(rows).items():
        out += section(model, bench, sel, baseline, families, select)
    return "\n".join(out)


def summary_csv(rows: list[Row]) -> str:
    """``summary.csv``: one line per row, its label, the varying parameters and the resolved config."""
    records = []
    swept = swept_keys(rows)
    for sel in groups(rows).values():
        labels = row_labels(sel)
        for r in sel:
            ident = {"model": r.model, "benchmark": r.benchmark, "family": r.family, "label": r.label,
                     "variant": labels[r.run_hash][len(r.label):].strip(), "method": r.method, "seed": r.seed}  # fmt: skip
            records.append({**ident, **dataclasses.asdict(r.cell), "tasks_run": r.tasks_run,
                            "tasks_total": r.tasks_total, "invocation_id": r.invocation, "run_hash": r.run_hash,
                            "run_dir": r.run_dir, "method_config": json.dumps(r.config, sort_keys=True),
                            **{column: _csv_value(r.config.get(key)) for key, column in swept.items()}})  # fmt: skip
    return csv_text(records, [*COLUMNS, *swept.values()])


def swept_keys(rows: list[Row]) -> dict[str, str]:
    """Method key -> CSV column for every method key that takes several values across the rows' runs
    (among the runs that have it; a key that clashes with a summary column gets a ``method.`` prefix)."""
    seen: dict[str, set[str]] = {}
    for r in rows:
        for key, value in method_params(r.config).items():
            seen.setdefault(key, set()).add(json.dumps(value, sort_keys=True, default=str))
    varying = sorted(k for k, values in seen.items() if len(values) > 1)
    return {k: f"method.{k}" if k in COLUMNS else k for k in varying}


def _csv_value(value: Any) -> Any:
    """A CSV cell: scalars as they are, lists and dicts as JSON."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def write_tables(
    results_dir: str | Path, baseline: str, families: list[Family] | None = None,
    select: Mapping[str, Any] | None = None,
) -> tuple[Path, Path, str]:  # fmt: skip
    """Write ``summary.csv`` and ``tables.md`` under ``results_dir`` from its runs (files whose content
    did not change are left untouched); returns the paths and the Markdown (ValueError without a run, or
    when runs of different n would share a cell)."""
    results_dir = Path(results_dir)
    rows = summary_rows(load_runs(results_dir))
    if not rows:
        raise ValueError(f"no readable run (metrics.json) under {results_dir}")
    csv_path, md_path = results_dir / "summary.csv", results_dir / "tables.md"
    md = tables_markdown(rows, baseline, families, select)
    atomic_write_text(csv_path, summary_csv(rows))
    atomic_write_text(md_path, md + "\n")
    return csv_path, md_path, md
