"""The paper's published numbers (``paper_results.yaml``, the one file of them) and their lookup.

Rows are keyed by method configuration name; :func:`by_label` re-keys them by the configuration's display
label, which is how runs are matched (a run of ``fastkv`` with ``kv_before=full`` is "FastKV (Full
before)", the paper's ``fastkv_fullbefore`` row).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PAPER_FILE = Path(__file__).with_name("paper_results.yaml")
SOURCE = "arXiv 2601.07667 v1"


@lru_cache(maxsize=1)
def paper_data() -> dict[str, Any]:
    """The whole file."""
    return yaml.safe_load(PAPER_FILE.read_text())


def table2_columns() -> dict[str, str]:
    """InfiniteBench task id -> the paper's column name, in the paper's order."""
    return dict(paper_data()["table2_columns"])


def by_label(rows: dict[str, Any]) -> dict[str, Any]:
    """Re-key rows from method configuration names to display labels."""
    from asl.methods.registry import build_method

    return {build_method(name).label: value for name, value in rows.items()}


def paper_table2(model: str) -> dict[str, dict[str, float]]:
    """Table 2 for ``model``: method label -> {task id: accuracy %, "avg": the paper's 10-task average}."""
    return by_label(paper_data()["table2"].get(model, {}))


def paper_table9(model: str) -> dict[str, dict[str, list[float]]]:
    """Table 9 (RULER 128K) for ``model``: method label -> {tau, accuracy, ttft_ratio} lists."""
    return by_label(paper_data()["table9"].get(model, {}))


def paper_efficiency_column(n: int, k: int | None) -> int | None:
    """Index of the paper length whose N / k_paper is closest (log scale) to n / k; None if none is close."""
    eff = paper_data()["efficiency"]
    if not k:
        return None
    target = math.log(n / k)
    lengths = eff["lengths"]
    best = min(range(len(lengths)), key=lambda i: abs(math.log(lengths[i] / eff["k"]) - target))
    return best if abs(math.log(lengths[best] / eff["k"]) - target) < 0.5 else None


def paper_efficiency(method: str, n: int, k: int | None) -> dict[str, float | int | None]:
    """Tables 4-5 TTFT/TPOT ratios (Llama, Qwen) of method configuration ``method`` at the same N / k."""
    eff = paper_data()["efficiency"]
    col = paper_efficiency_column(n, k)
    out: dict[str, float | int | None] = {"paper_length": None if col is None else eff["lengths"][col]}
    for metric in ("ttft", "tpot"):
        for model, short in (("llama31_8b_ul", "llama"), ("qwen25_7b", "qwen")):
            row = eff[metric].get(model, {}).get(method)
            out[f"paper_{metric}_{short}"] = row[col] if row and col is not None else None
    return out


def paper_kv_gb(model: str | None, method: str, n: int, budget: int | None) -> float | None:
    """Table 7's memory (the KV cache, GB) of configuration ``method`` on ``model`` at the paper's RULER
    128k setting (N = 131072, budget 2048; FullKV has no budget); None anywhere else."""
    table = paper_data()["table7_ruler_128k"]
    if n != table["length"] or budget not in (None, table["kv_budget"]):
        return None
    value = (table.get(model) or {}).get(method)
    return None if value is None else float(value)
