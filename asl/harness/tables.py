"""Tables from run directories alone (no model): summary.csv and Markdown layouts.

Every row is labelled from the run's own recorded config (config.yaml), never by position.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from asl.harness.metrics import aggregate, group_records
from asl.harness.paper import canonical, table2_task_columns
from asl.harness.store import atomic_write_text, read_jsonl

KEY = ("model", "method", "kv_before", "benchmark", "task", "context_length", "kv_budget", "tau")
VALUES = ("n", "n_errors", "accuracy", "ttft_s", "tpot_s", "peak_memory_gb", "kv_cache_gb", "selection_layer")
COLUMNS = KEY + VALUES + ("run_dir",)
LABELS = {"fullkv": "Full KV", "snapkv": "SnapKV", "fastkv": "FastKV", "asl": "ASL", "gemfilter": "GemFilter"}
LABELS["asl_2pass"] = "ASL_2pass"
ORDER = ["fullkv", "snapkv", "fastkv", "asl", "gemfilter", "asl_2pass"]


def find_runs(results_dir: str | Path) -> list[Path]:
    """Run directories (holding config.yaml and predictions.jsonl) under ``results_dir``."""
    runs = [
        p.parent for p in Path(results_dir).rglob("predictions.jsonl") if (p.parent / "config.yaml").is_file()
    ]
    return sorted(runs)


def run_rows(run_dir: Path) -> list[dict[str, Any]]:
    """summary rows of one run, one per (task, context_length)."""
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    method = dict(cfg.get("method") or {})
    base, kv_before = canonical(str(method.get("name")), method.get("kv_before"))
    ident = {
        "model": cfg["model"]["name"],
        "method": base,
        "kv_before": kv_before,
        "benchmark": cfg["benchmark"]["name"],
        "kv_budget": method.get("kv_budget"),
        "tau": method.get("tau"),
    }
    rows = []
    for (task, length), recs in group_records(read_jsonl(run_dir / "predictions.jsonl")).items():
        agg = aggregate(recs)
        row = {**ident, "task": task, "context_length": length, "run_dir": str(run_dir)}
        row.update({k: agg[k] for k in VALUES})
        rows.append(row)
    return rows


def _end_time(run_dir: str) -> str:
    try:
        return json.loads((Path(run_dir) / "run_meta.json").read_text()).get("end_time") or ""
    except (OSError, ValueError):
        return ""


def summary_rows(results_dir: str | Path) -> list[dict[str, Any]]:
    """All rows; when two runs share a key (e.g. other seeds), the larger, then later one is kept."""
    best: dict[tuple, dict[str, Any]] = {}
    for run_dir in find_runs(results_dir):
        for row in run_rows(run_dir):
            key = tuple(row[k] for k in KEY)
            old = best.get(key)
            if old is not None:
                print(f"warning: {row['run_dir']} and {old['run_dir']} share a table row", file=sys.stderr)
                if (old["n"], _end_time(old["run_dir"])) >= (row["n"], _end_time(row["run_dir"])):
                    continue
            best[key] = row
    return sorted(best.values(), key=_sort_key)


def _sort_key(row: dict[str, Any]) -> tuple:
    m = ORDER.index(row["method"]) if row["method"] in ORDER else len(ORDER)
    return (
        row["model"],
        row["benchmark"],
        row["kv_before"] == "full",
        m,
        row["method"],
        str(row["kv_budget"]),
        str(row["tau"]),
        row["task"],
        row["context_length"] or 0,
    )


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str] = COLUMNS) -> str:
    """CSV text of ``rows``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def row_label(row: dict[str, Any], vary: set[str]) -> str:
    """Display name from the recorded method, kv_before and (where they vary) budget and tau."""
    label = LABELS.get(row["method"], row["method"])
    if row["kv_before"] == "full":
        label += " (Full before)"
    if "kv_budget" in vary and row["kv_budget"] is not None:
        label += f" C={row['kv_budget']}"
    if "tau" in vary and row["tau"] is not None:
        label += f" τ={row['tau']}"
    return label


def _fmt(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def pivot(rows: list[dict[str, Any]], col: str, value: str = "accuracy") -> tuple[list[str], list[Any], dict]:
    """Labels, columns and {label: {column: mean value}} over the rows of one model and benchmark."""
    vary = {k for k in ("kv_budget", "tau") if len({str(r[k]) for r in rows if r[k] is not None}) > 1}
    labels: list[str] = []
    cells: dict[str, dict[Any, list]] = {}
    cols: list[Any] = []
    for row in rows:
        label = row_label(row, vary)
        if label not in cells:
            labels.append(label)
            cells[label] = {}
        if row[col] not in cols:
            cols.append(row[col])
        cells[label].setdefault(row[col], []).append(row[value])
    table = {lab: {c: _mean(v) for c, v in cs.items()} for lab, cs in cells.items()}
    return labels, cols, table


def markdown(
    labels: list[str], cols: list[Any], table: dict, names: dict | None = None, digits: int = 2
) -> str:
    """A Markdown table with an unweighted ``Avg.`` column over the given columns."""
    names = names or {}
    head = "| Method | " + " | ".join(str(names.get(c, c)) for c in cols) + " | Avg. |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for lab in labels:
        vals = [table[lab].get(c) for c in cols]
        avg = _mean(vals)
        lines.append(f"| {lab} | " + " | ".join(_fmt(v, digits) for v in vals) + f" | {_fmt(avg, digits)} |")
    return "\n".join(lines)


def table2_rows(rows: list[dict[str, Any]], model: str) -> tuple[list[str], list[str], dict]:
    """Table 2 layout for one model: methods x InfiniteBench tasks (paper order, then any others)."""
    sel = [r for r in rows if r["model"] == model and str(r["benchmark"]).startswith("infinitebench")]
    labels, cols, table = pivot(sel, "task")
    order = list(table2_task_columns())
    cols = sorted(cols, key=lambda c: (order.index(c) if c in order else len(order), c))
    return labels, cols, table


def ratio_rows(rows: list[dict[str, Any]], field: str, baseline: str = "fullkv") -> list[dict[str, Any]]:
    """Rows whose ``field`` is divided by the baseline method's value at the same model/benchmark/task/length."""
    base = {
        (r["model"], r["benchmark"], r["task"], r["context_length"]): r[field]
        for r in rows
        if r["method"] == baseline
    }
    out = []
    for r in rows:
        b = base.get((r["model"], r["benchmark"], r["task"], r["context_length"]))
        if r["method"] != baseline and b and r[field] is not None:
            out.append({**r, "ratio": r[field] / b})
    return out


def build_markdown(rows: list[dict[str, Any]], baseline: str = "fullkv") -> str:
    """All Markdown sections: accuracy per benchmark (Table 2 / RULER layouts) and TTFT/TPOT ratios."""
    out: list[str] = []
    names = table2_task_columns()
    for model in sorted({r["model"] for r in rows}):
        for bench in sorted({r["benchmark"] for r in rows if r["model"] == model}):
            sel = [r for r in rows if r["model"] == model and r["benchmark"] == bench]
            by = "task" if str(bench).startswith("infinitebench") else "context_length"
            if by == "task":
                labels, cols, table = table2_rows(sel, model)
                title = "accuracy, Table 2 layout"
            else:
                labels, cols, table = pivot(sel, by)
                title = "accuracy (mean over tasks) by context length"
            out += [f"## {model} / {bench}: {title}", "", markdown(labels, cols, table, names), ""]
            for field in ("ttft_s", "tpot_s"):
                ratios = ratio_rows(sel, field, baseline)
                if ratios:
                    labels, cols, table = pivot(ratios, by, "ratio")
                    if by == "task":
                        cols = [c for c in table2_rows(sel, model)[1] if c in cols]
                    head = f"## {model} / {bench}: {field.split('_')[0].upper()} ratio to {LABELS.get(baseline, baseline)}"
                    out += [head, "", markdown(labels, cols, table, names), ""]
    return "\n".join(out)


def write_tables(results_dir: str | Path, baseline: str = "fullkv") -> tuple[Path, Path, str]:
    """Write ``summary.csv`` and ``tables.md`` under ``results_dir``; returns their paths and the Markdown."""
    results_dir = Path(results_dir)
    rows = summary_rows(results_dir)
    csv_path, md_path = results_dir / "summary.csv", results_dir / "tables.md"
    atomic_write_text(csv_path, to_csv(rows))
    md = build_markdown(rows, baseline)
    atomic_write_text(md_path, md + "\n")
    return csv_path, md_path, md
