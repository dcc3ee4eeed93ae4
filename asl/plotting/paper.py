"""The paper's published numbers (Table 2, Table 9), for side-by-side comparison."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from asl.plotting.loading import REPO_ROOT, variant_name

log = logging.getLogger("asl.plotting")

BUNDLED = Path(__file__).with_name("paper_results.yaml")
RUNNER_TABLE2 = REPO_ROOT / "configs" / "paper" / "table2.yaml"

# Names the paper (or a runner-written file) may use for the harness' model and method names.
MODEL_ALIASES = {
    "llama": "llama31_8b_ul",
    "llama-3.1-8b-ul": "llama31_8b_ul",
    "llama31_8b_ul": "llama31_8b_ul",
    "qwen": "qwen25_7b",
    "qwen2.5-7b": "qwen25_7b",
    "qwen25_7b": "qwen25_7b",
}
METHOD_ALIASES = {
    "full kv": "fullkv",
    "full_kv": "fullkv",
    "fullkv": "fullkv",
    "snapkv": "snapkv",
    "fastkv": "fastkv",
    "asl": "asl",
    "gemfilter": "gemfilter",
    "asl_2pass": "asl_2pass",
    "fastkv_fullbefore": "fastkv_fullbefore",
    "asl_fullbefore": "asl_fullbefore",
}


@lru_cache(maxsize=1)
def _bundled() -> dict:
    return yaml.safe_load(BUNDLED.read_text()) or {}


def _row_cells(row: dict, task_ids: list[str]) -> dict[str, float]:
    """Cells of one row: either {'scores': [...], 'avg': x} (paper column order) or {task: value}."""
    if isinstance(row.get("scores"), list):
        if len(row["scores"]) != len(task_ids):
            raise ValueError(
                f"row {row.get('method')!r} has {len(row['scores'])} scores, expected {len(task_ids)}"
            )
        cells = {t: float(v) for t, v in zip(task_ids, row["scores"], strict=True) if v is not None}
        if isinstance(row.get("avg"), int | float):
            cells["avg"] = float(row["avg"])
        return cells
    skip = {"method", "kv_before", "kv_budget"}
    return {str(t): float(v) for t, v in row.items() if t not in skip and isinstance(v, int | float)}


def _normalise_table2(raw: Any) -> dict[str, dict[str, dict[str, float]]]:
    """Model -> method variant -> task -> value, from either supported layout.

    Layout A (configs/paper/table2.yaml): {columns: {paper column: task id}, models: {model: [rows]}},
    rows {method, kv_before, avg, scores}. Layout B (bundled): {table2: {model: {method: {task: value}}}}.
    """
    if not isinstance(raw, dict):
        raise ValueError("not a mapping")
    task_ids = [str(t) for t in (raw.get("columns") or {}).values()]
    body = raw.get("models", raw.get("table2", raw))
    if not isinstance(body, dict):
        raise ValueError("no models mapping")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for model, methods in body.items():
        m_key = MODEL_ALIASES.get(str(model).lower(), str(model))
        if isinstance(methods, dict):
            rows = [dict(cells, method=name) for name, cells in methods.items() if isinstance(cells, dict)]
        elif isinstance(methods, list):
            rows = [r for r in methods if isinstance(r, dict)]
        else:
            raise ValueError(f"model {model!r} is neither a mapping nor a list")
        for row in rows:
            name = METHOD_ALIASES.get(str(row.get("method")).lower(), str(row.get("method")))
            out.setdefault(m_key, {})[variant_name(name, row.get("kv_before"))] = _row_cells(row, task_ids)
    return out


def paper_table2(model: str) -> tuple[dict[str, dict[str, float]], str]:
    """Paper Table 2 cells for ``model`` (method -> task -> percent) and where they came from."""
    if RUNNER_TABLE2.exists():
        try:
            table = _normalise_table2(yaml.safe_load(RUNNER_TABLE2.read_text()))
            return table.get(model, {}), str(RUNNER_TABLE2.relative_to(REPO_ROOT))
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            log.warning("cannot read %s (%s); using the bundled transcription", RUNNER_TABLE2, exc)
    table = _normalise_table2(_bundled().get("table2", {}))
    return table.get(model, {}), "asl/plotting/paper_results.yaml"


def paper_table9(model: str) -> dict[str, dict[str, list[float]]]:
    """Paper Table 9 (RULER 128K) for ``model``: variant -> {tau, accuracy, ttft_ratio}."""
    return (_bundled().get("table9") or {}).get(model, {})
