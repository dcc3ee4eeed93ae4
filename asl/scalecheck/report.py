"""results/scale_check/: the CSV (one row per model x method x context length x phase) and one readable
Markdown page per model, with the memory goals judged from its rows."""

from __future__ import annotations

import csv
from pathlib import Path

from asl.scalecheck.check import LENGTHS, Row, as_dicts, variants
from asl.scalecheck.goals import GiB, full_before_note, memory_goals

COLUMNS = list(Row.__dataclass_fields__)
_INTS = ("context_length", "peak_bytes", "predicted_bytes", "weights_bytes", "kv_bytes")
_INTS += ("largest_tensor_bytes", "chunk")


def write_csv(rows: list[Row], path: Path) -> None:
    """Write ``rows`` (all models) to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(as_dicts(rows))
    tmp.replace(path)


def read_csv(path: Path) -> list[Row]:
    """The rows of a scale_check.csv written by :func:`write_csv` (a table without ``seconds``: 0)."""
    rows = []
    with Path(path).open() as handle:
        for raw in csv.DictReader(handle):
            values = {k: int(raw[k]) for k in _INTS}
            layer = raw["selection_layer"]
            values |= {
                "model": raw["model"],
                "method": raw["method"],
                "phase": raw["phase"],
                "decode_ops_per_layer": float(raw["decode_ops_per_layer"]),
                "selection_layer": int(layer) if layer else None,
                "ratio": float(raw["ratio"]),
                "status": raw["status"],
                "seconds": float(raw.get("seconds") or 0.0),
            }
            rows.append(Row(**values))
    return rows


def merge_rows(tables: list[list[Row]]) -> list[Row]:
    """Rows of several tables, one per (model, method, length, phase) (a later table wins), ordered by
    model (first seen), length, then method (first seen)."""
    latest: dict[tuple, Row] = {}
    for rows in tables:
        for r in rows:
            latest[(r.model, r.method, r.context_length, r.phase)] = r
    models = list(dict.fromkeys(k[0] for k in latest))
    methods = list(dict.fromkeys(k[1] for k in latest))
    phases = ["prefill", "decode"]
    return [
        latest[k]
        for k in sorted(
            latest, key=lambda k: (models.index(k[0]), k[2], methods.index(k[1]), phases.index(k[3]))
        )
    ]


def wall_times(rows: list[Row]) -> dict[int, float]:
    """Seconds of the requests per context length (each request's time is on both of its rows)."""
    out: dict[int, float] = {}
    for r in rows:
        if r.phase == "prefill":
            out[r.context_length] = out.get(r.context_length, 0.0) + r.seconds
    return out


def missing_settings(rows: list[Row]) -> list[str]:
    """Per context length of the check (``LENGTHS``), the methods of ``variants()`` without rows."""
    labels = [v.label for v in variants()]
    out = []
    for n in LENGTHS:
        have = {r.method for r in rows if r.context_length == n}
        absent = [label for label in labels if label not in have]
        if absent:
            out.append(f"{n}: " + ("all methods" if len(absent) == len(labels) else ", ".join(absent)))
    return out


def model_page(model: str, rows: list[Row], failures: list[str]) -> str:
    """A Markdown page of one model's rows: the goals, then peaks beside predictions."""
    times = ", ".join(f"{n}: {s:.0f} s" for n, s in wall_times(rows).items())
    lines = [
        f"# Scale check: {model} (fake tensors, bf16)",
        "",
        "The real engine (chunked prefill, then static decode steps) on fake tensors: shapes, dtypes and",
        "devices are real, nothing is allocated or computed (`make scale-check`, `asl/scalecheck/`). ASL's",
        "layer is forced (L_min / middle / last); the attention kernel is a fused stand-in (output + LSE).",
        f"Wall time of the requests per context length: {times}.",
        "Not measured in this table: " + ("; ".join(missing_settings(rows)) or "none") + ".",
        "",
        "## Memory goals (issue 18), judged from this table",
        "",
        *[goal.verdict() for goal in memory_goals(rows)],
        *([note] if (note := full_before_note(rows)) else []),
        "",
        "| method | N | phase | peak GiB | predicted GiB | measured/predicted | beyond weights+KV GiB |"
        " largest tensor MiB | decode ops/layer | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        beyond = (r.peak_bytes - r.weights_bytes - r.kv_bytes) / GiB
        lines.append(
            f"| {r.method} | {r.context_length} | {r.phase} | {r.peak_bytes / GiB:.2f} | "
            f"{r.predicted_bytes / GiB:.2f} | {r.ratio:.3f} | {beyond:.2f} | "
            f"{r.largest_tensor_bytes / 2**20:.0f} | {r.decode_ops_per_layer:.1f} | {r.status} |"
        )
    lines += ["", "Checks failed: " + ("; ".join(failures) if failures else "none"), ""]
    return "\n".join(lines)
