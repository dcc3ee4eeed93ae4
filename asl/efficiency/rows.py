"""Turn measured runs into CSV rows: medians, 95% intervals, ratios to FullKV, ideal cost, KV checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asl.efficiency.flops import ArchSpec, expected_layer_calls, ideal_ttft_ratio, method_prefill_flops
from asl.efficiency.kvcheck import check_kv
from asl.efficiency.measure import summarize
from asl.efficiency.paper import paper_ratios
from asl.efficiency.runner import RunConfig, selection_layer_of

NAN = float("nan")


def _median(values: list[Any]) -> float:
    return summarize([float(v) for v in values if v is not None])["median"]


def _cost_method(cfg: RunConfig) -> str:
    return "fastkv_forced" if cfg.label.startswith("fastkv_forced") else cfg.method_name


def config_row(cfg: RunConfig, arch: ArchSpec, n: int, dtype_bytes: int, common: Mapping[str, Any]) -> dict:
    """One CSV row for one method config at one length (ratios are filled in by ``add_ratios``)."""
    runs = cfg.runs
    resolved = runs[-1]["method_config"] if runs else {}
    layer = selection_layer_of(cfg)
    layers_seen = sorted({r["selection_layer"] for r in runs}, key=lambda x: -1 if x is None else x)
    ttft = summarize([r["ttft_s"] for r in runs])
    tpot = summarize([r["tpot_s"] for r in runs])
    k = resolved.get("select_k") or resolved.get("kv_budget") or cfg.budget
    cost_method = _cost_method(cfg)
    filter_layer = resolved.get("filter_layer")
    one_shot = resolved.get("tsp_layer", layer) if cost_method.startswith("fastkv") else layer
    cost_kwargs = {"k": k, "selection_layer": one_shot, "filter_layer": filter_layer}
    kv = check_kv(
        arch,
        cost_method,
        resolved,
        n,
        one_shot,
        runs[-1]["kv_lengths"],
        runs[-1]["kv_cache_bytes"],
        dtype_bytes,
    )
    kv_stable = all(r["kv_cache_bytes"] == runs[-1]["kv_cache_bytes"] for r in runs)
    new_tokens = {r["new_tokens"] for r in runs}
    return {
        **common,
        "method": cfg.label,
        "kv_before": resolved.get("kv_before", "full" if cfg.method_name == "fullkv" else ""),
        "context_length": n,
        "kv_budget": cfg.budget,
        "select_k": k if cfg.method_name != "fullkv" else None,
        "selection_layer": layer if cfg.method_name not in ("fullkv", "snapkv") else None,
        "selection_layers_seen": "|".join(str(x) for x in layers_seen),
        "layer_source": cfg.layer_source,
        "filter_layer": filter_layer,
        "ttft_s": ttft["median"],
        "ttft_mean_s": ttft["mean"],
        "ttft_std_s": ttft["std"],
        "ttft_ci95_lo_s": ttft["ci_lo"],
        "ttft_ci95_hi_s": ttft["ci_hi"],
        "tpot_s": tpot["median"],
        "tpot_ci95_lo_s": tpot["ci_lo"],
        "tpot_ci95_hi_s": tpot["ci_hi"],
        "load_avg_1m_max": max((r["load_avg_1m"] for r in runs), default=NAN),
        "wall_s": _median([r["wall_s"] for r in runs]),
        "new_tokens": "|".join(str(x) for x in sorted(new_tokens)),
        "peak_memory_bytes": _median([r["peak_memory_bytes"] for r in runs]),
        "peak_memory_kind": runs[-1]["peak_memory_kind"],
        "peak_allocated_bytes": _median([r["peak_allocated_bytes"] for r in runs]),
        "peak_reserved_bytes": _median([r["peak_reserved_bytes"] for r in runs]),
        **{
            k_: cfg.prefill_peak.get(k_)
            for k_ in ("prefill_peak_allocated_bytes", "prefill_peak_reserved_bytes")
        },
        "engine_peak_reserved_bytes": _median([r["engine_peak_reserved_bytes"] for r in runs]),
        "layers_run": runs[-1]["layers_run"],
        "layers_expected": expected_layer_calls(arch, cost_method, one_shot, filter_layer),
        "kv_cache_bytes": runs[-1]["kv_cache_bytes"],
        **kv,
        "kv_bytes_stable": kv_stable,
        "ideal_flops": method_prefill_flops(arch, cost_method, n, **cost_kwargs),
        "ideal_ttft_ratio": ideal_ttft_ratio(arch, cost_method, n, **cost_kwargs),
        "repeats": ttft["n"],
        **paper_ratios(cfg.label, n, k if cfg.method_name != "fullkv" else None),
        **_rho_summary(runs[-1].get("rel_variance") or {}),
        "note": cfg.note,
        "_method_config": resolved,
    }


def _rho_summary(trace: Mapping[int, float]) -> dict[str, Any]:
    """Smallest relative rank variance of ASL's rule and its layer (explains a rule that never fired)."""
    if not trace:
        return {"rho_min": None, "rho_min_layer": None}
    layer = min(trace, key=lambda k: trace[k])
    return {"rho_min": trace[layer], "rho_min_layer": layer}


def add_ratios(rows: list[dict]) -> None:
    """Ratios to FullKV at the same length, measured/ideal, and ASL's monitoring overhead (in place)."""
    full = {r["context_length"]: r for r in rows if r["method"] == "fullkv"}
    for r in rows:
        f = full.get(r["context_length"])
        ok = f is not None and f["ttft_s"] > 0
        r["ttft_ratio_vs_fullkv"] = r["ttft_s"] / f["ttft_s"] if ok else NAN
        r["tpot_ratio_vs_fullkv"] = r["tpot_s"] / f["tpot_s"] if ok and f["tpot_s"] else NAN
        r["kv_ratio_vs_fullkv"] = (
            r["kv_cache_bytes"] / f["kv_cache_bytes"] if ok and f["kv_cache_bytes"] else NAN
        )
        r["measured_over_ideal"] = r["ttft_ratio_vs_fullkv"] / r["ideal_ttft_ratio"]
        r["monitor_overhead"] = NAN
    for a in rows:
        if a["method"] in ("asl", "asl_fullbefore"):
            _monitor_overhead(a, rows)


def _monitor_overhead(a: dict, rows: list[dict]) -> None:
    """ASL TTFT over its no-monitoring twin: FastKV forced to ASL's layer; if the rule never fired,
    SnapKV (kv_before snapkv) or FullKV (kv_before full), which then do the same layer work."""

    def find(method: str, budget: Any) -> dict | None:
        same = [r for r in rows if r["context_length"] == a["context_length"] and r["method"] == method]
        return next((r for r in same if r["kv_budget"] == budget), None)

    ref = find(f"fastkv_forced[{a['method']}]", a["kv_budget"])
    name = "fastkv_forced"
    if ref is None and a["selection_layer"] is None:
        name = "fullkv" if a["kv_before"] == "full" else "snapkv"
        ref = find(name, None if name == "fullkv" else a["kv_budget"])
        name += " (rule never fired)"
    if ref is not None and ref["ttft_s"] > 0:
        a["monitor_overhead"] = a["ttft_s"] / ref["ttft_s"]
        a["monitor_reference"] = f"{name}@layer {ref['selection_layer']}" if "forced" in name else name
