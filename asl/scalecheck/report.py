"""results/scale_check/: the CSV (one row per model x method x context length x phase) and one readable
Markdown page per model."""

from __future__ import annotations

import csv
from pathlib import Path

from asl.scalecheck.check import GiB, Row, as_dicts

COLUMNS = list(Row.__dataclass_fields__)


def write_csv(rows: list[Row], path: Path) -> None:
    """Write ``rows`` (all models) to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(as_dicts(rows))
    tmp.replace(path)


def model_page(model: str, rows: list[Row], failures: list[str], seconds: float) -> str:
    """A Markdown page of one model's rows: peaks beside predictions, GiB beyond weights + KV."""
    lines = [
        f"# Scale check: {model} (fake tensors, bf16)",
        "",
        "The real engine (chunked prefill, then static decode steps) on fake tensors: shapes, dtypes and",
        "devices are real, nothing is allocated or computed (`make scale-check`, `asl/scalecheck/`). ASL's",
        "layer is forced (L_min / middle / last); the attention kernel is a fused stand-in (output + LSE).",
        f"Wall time of this run: {seconds:.0f} s.",
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
    lines += ["", "Goals missed: " + ("; ".join(failures) if failures else "none"), ""]
    return "\n".join(lines)
