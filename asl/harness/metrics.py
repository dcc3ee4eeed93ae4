"""Aggregate per-sample records into per-task, per-length and overall metrics (no model needed)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from statistics import mean
from typing import Any

GIB = 1024**3
TIME_FIELDS = ("ttft_s", "tpot_s")


def _mean(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    vals = [v for v in vals if not math.isnan(v)]
    return mean(vals) if vals else None


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """n, errors, accuracy (0-100 over scored samples), mean timings, memory in GiB, selection layer."""
    ok = [r for r in records if not r.get("error")]
    acc = _mean(r.get("score") for r in ok)
    peak = _mean(r.get("peak_memory_bytes") for r in ok)
    kv = _mean(r.get("kv_cache_bytes") for r in ok)
    return {
        "n": len(records),
        "n_errors": len(records) - len(ok),
        "accuracy": None if acc is None else 100.0 * acc,
        "ttft_s": _mean(r.get("ttft_s") for r in ok),
        "tpot_s": _mean(r.get("tpot_s") for r in ok),
        "peak_memory_gb": None if peak is None else peak / GIB,
        "kv_cache_gb": None if kv is None else kv / GIB,
        "selection_layer": _mean(r.get("selection_layer") for r in ok),
        "prompt_tokens": _mean(r.get("prompt_tokens") for r in ok),
    }


def group_records(records: list[dict[str, Any]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    """Records grouped by (task, context_length), in first-seen order."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        groups[(str(rec.get("task")), rec.get("context_length"))].append(rec)
    return dict(groups)


def compute_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``metrics.json`` content: per task, per task and length, and overall.

    ``overall.task_mean`` is the unweighted mean of the task accuracies (the paper's "Avg." column).
    """
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_task[str(rec.get("task"))].append(rec)
    tasks = {task: aggregate(recs) for task, recs in sorted(by_task.items())}
    per_length = [
        {"task": task, "context_length": length, **aggregate(recs)}
        for (task, length), recs in sorted(
            group_records(records).items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
        )
    ]
    overall = aggregate(records)
    overall["task_mean"] = _mean(t["accuracy"] for t in tasks.values())
    return {"overall": overall, "tasks": tasks, "per_length": per_length}
