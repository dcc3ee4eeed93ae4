"""Table 2 report: our InfiniteBench accuracies per method and task, beside the paper's where it has them."""

from __future__ import annotations

from typing import Any

from asl.harness.paper import load_table2, paper_table2
from asl.harness.tables import _fmt, _mean, row_label, table2_rows, to_csv


def table2_report(rows: list[dict[str, Any]], model: str) -> tuple[str, str]:
    """(CSV, Markdown) of Table 2 for ``model``; with paper numbers: ours, paper and ours - paper per cell."""
    labels, tasks, table = table2_rows(rows, model)
    data = load_table2()
    names = {task: col for col, task in data["columns"].items()}
    paper = paper_table2(model, data)
    keys = {}
    for r in rows:
        if r["model"] == model and str(r["benchmark"]).startswith("infinitebench"):
            keys.setdefault(row_label(r, set()), (r["method"], r["kv_before"]))
    csv_rows: list[dict[str, Any]] = []
    md = [
        f"## Table 2 ({model}): InfiniteBench accuracy" + (" — ours / paper (ours − paper)" if paper else ""),
        "",
        "| Method | " + " | ".join(names.get(t, t) for t in tasks) + " | Avg. |",
        "|" + "---|" * (len(tasks) + 2),
    ]
    for lab in labels:
        ours = {t: table[lab].get(t) for t in tasks}
        ours["avg"] = _mean(list(ours.values()))
        ref = (paper or {}).get(keys.get(lab, ("", "")))
        base = {"label": lab, "method": keys.get(lab, ("", ""))[0], "kv_before": keys.get(lab, ("", ""))[1]}
        csv_rows.append({**base, "source": "ours", **ours})
        if ref is None:
            md.append(f"| {lab} | " + " | ".join(_fmt(ours[t]) for t in [*tasks, "avg"]) + " |")
            continue
        # the paper average covers all 10 tasks; compare like with like over the tasks we ran
        ref_row = {t: ref.get(t) for t in tasks}
        ref_row["avg"] = (
            ref["avg"] if set(tasks) >= set(data["columns"].values()) else _mean(list(ref_row.values()))
        )
        diff = {k: None if ours[k] is None or ref_row[k] is None else ours[k] - ref_row[k] for k in ref_row}
        csv_rows += [{**base, "source": "paper", **ref_row}, {**base, "source": "diff", **diff}]
        cells = [f"{_fmt(ours[t])} / {_fmt(ref_row[t])} ({_sign(diff[t])})" for t in [*tasks, "avg"]]
        md.append(f"| {lab} | " + " | ".join(cells) + " |")
    if paper and not set(tasks) >= set(data["columns"].values()):
        md += ["", "Paper Avg. here is recomputed over the tasks run (the paper averages all 10)."]
    columns = ["label", "method", "kv_before", "source", *tasks, "avg"]
    return to_csv(csv_rows, columns), "\n".join(md)


def _sign(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"
