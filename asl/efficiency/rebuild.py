"""Recompute efficiency.csv / .md / meta.json from a run's raw records (runs.jsonl) without re-running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asl.cost_model import ArchSpec
from asl.efficiency.bench_loop import RunConfig
from asl.efficiency.device import DeviceRates
from asl.efficiency.floors import FloorInputs, add_floors
from asl.efficiency.report import write_all
from asl.efficiency.rows import add_ratios, config_row
from asl.methods.registry import method_from_config

_DTYPE_BYTES = {"torch.float32": 4, "torch.bfloat16": 2, "torch.float16": 2}


def rebuild(out_dir: Path) -> list[dict[str, Any]]:
    """Rebuild the reports in ``out_dir`` from its runs.jsonl and meta.json; returns the rows."""
    meta = json.loads((out_dir / "meta.json").read_text())
    meta.pop("goals", None)
    meta.pop("partial", None)
    arch = ArchSpec(**meta["arch"])
    dtype_bytes = _DTYPE_BYTES[meta["dtype"]]
    groups: dict[tuple[int, str], RunConfig] = {}
    for line in (out_dir / "runs.jsonl").read_text().splitlines():
        rec = json.loads(line)
        key = (rec["n"], rec["label"])
        if key not in groups:
            method = method_from_config(rec["method"])
            groups[key] = RunConfig(
                rec["label"], method, rec["budget"], rec["layer_source"], rec["note"], rec["reference_for"]
            )
        groups[key].runs.append(rec)
    common = {key: meta.get(key) for key in ("model", "device", "weights", "dtype", "prompt_source")}
    rows = [config_row(cfg, arch, n, dtype_bytes, common) for (n, _), cfg in groups.items()]
    add_ratios(rows)
    if meta.get("device_rates"):  # runs from before the floors have no measured rates
        floors = FloorInputs(
            arch,
            dtype_bytes,
            meta["weights_bytes"],
            meta["decode_weight_bytes"],
            meta["settings"]["decode_steps"],
            meta.get("mlp_chunk"),
            DeviceRates.from_dict({"source": "measured", **meta["device_rates"]}),
        )
        add_floors(rows, floors)
    meta["method_configs"] = {f"{r['method']}@{r.get('kv_budget')}": r.get("_method_config") for r in rows}
    meta["rebuilt_from"] = "runs.jsonl"
    write_all(rows, meta, out_dir)
    return rows
