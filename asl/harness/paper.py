"""Paper numbers kept in the repo (``configs/paper/*.yaml``) and their lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PAPER_DIR = Path(__file__).resolve().parents[2] / "configs" / "paper"


def canonical(method: str, kv_before: str | None) -> tuple[str, str]:
    """(base method, kv_before or "-"): ``fastkv_fullbefore`` and ``fastkv`` + ``kv_before=full`` are one setting."""
    base = method.removesuffix("_fullbefore")
    if method.endswith("_fullbefore") and not kv_before:
        kv_before = "full"
    return base, str(kv_before) if kv_before else "-"


def load_table2(path: Path | None = None) -> dict[str, Any]:
    """The Table 2 data file: ``columns`` (paper name -> task id), ``models`` rows."""
    with (path or PAPER_DIR / "table2.yaml").open() as fh:
        data = yaml.safe_load(fh)
    for rows in data["models"].values():
        for row in rows:
            if len(row["scores"]) != len(data["columns"]):
                raise ValueError(f"paper table2 row {row['method']}: {len(row['scores'])} scores")
    return data


def table2_task_columns(data: dict[str, Any] | None = None) -> dict[str, str]:
    """InfiniteBench task id -> paper column label, in the paper's order."""
    data = data or load_table2()
    return {task: col for col, task in data["columns"].items()}


def paper_table2(
    model: str, data: dict[str, Any] | None = None
) -> dict[tuple[str, str], dict[str, float]] | None:
    """Per (method, kv_before) the paper's per-task scores (keyed by task id) plus ``avg``; None if absent."""
    data = data or load_table2()
    rows = data["models"].get(model)
    if rows is None:
        return None
    tasks = list(data["columns"].values())
    out = {}
    for row in rows:
        scores = {task: float(v) for task, v in zip(tasks, row["scores"], strict=True)}
        scores["avg"] = float(row["avg"])
        out[canonical(row["method"], row.get("kv_before"))] = scores
    return out
