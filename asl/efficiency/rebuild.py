"""Recompute efficiency.csv / .md / meta.json from a run's raw records (runs.jsonl) without re-running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asl.efficiency.flops import ArchSpec
from asl.efficiency.report import write_all
from asl.efficiency.rows import add_ratios, config_row
from asl.efficiency.runner import RunConfig

_DTYPE_BYTES = {"torch.float32": 4, "torch.bfloat16": 2, "torch.float16": 2}


def _config(label: str, budget: int | None, force_layer: int | None) -> RunConfig:
    if label.startswith("fastkv_forced["):
        return RunConfig(
            label, "fastkv", budget, {}, "forced", f"reference for {label[14:-1]}: FastKV at ASL's layer"
        )
    if label in ("fullkv", "snapkv"):
        return RunConfig(label, label, budget, {}, "none")
    if label.startswith("asl"):
        forced = force_layer is not None and label != "asl_2pass"
        return RunConfig(label, label, budget, {}, "forced" if forced else "rule")
    return RunConfig(label, label, budget, {}, "fixed")


def rebuild(out_dir: Path) -> list[dict[str, Any]]:
    """Rebuild the reports in ``out_dir`` from its runs.jsonl and meta.json; returns the rows."""
    meta = json.loads((out_dir / "meta.json").read_text())
    meta.pop("goals", None)
    meta.pop("partial", None)
    settings = meta["settings"]
    arch = ArchSpec(**meta["arch"])
    dtype_bytes = _DTYPE_BYTES[meta["dtype"]]
    groups: dict[tuple[int, str], RunConfig] = {}
    for line in (out_dir / "runs.jsonl").read_text().splitlines():
        rec = json.loads(line)
        key = (rec["n"], rec["label"])
        if key not in groups:
            groups[key] = _config(rec["label"], rec["budget"], settings.get("force_layer"))
        groups[key].runs.append(rec)
    common = {
        "model": meta["model"],
        "device": meta["device"],
        "weights": meta["weights"],
        "dtype": meta["dtype"],
    }
    common["prompt_source"] = meta.get("prompt_source")
    rows = [config_row(cfg, arch, n, dtype_bytes, common) for (n, _), cfg in groups.items()]
    add_ratios(rows)
    meta["method_configs"] = {f"{r['method']}@{r.get('kv_budget')}": r.get("_method_config") for r in rows}
    meta["rebuilt_from"] = "runs.jsonl"
    write_all(rows, meta, out_dir)
    return rows
