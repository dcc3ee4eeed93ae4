"""Turn measured runs into CSV rows: medians, 95% intervals, ratios to FullKV, ideal cost, KV checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from asl.cost_model import ArchSpec, full_prefill_flops
from asl.efficiency.bench_loop import RunConfig, selection_layer_of
from asl.efficiency.kvcheck import check_kv
from asl.efficiency.measure import summarize
from asl.results.paper import paper_efficiency, paper_kv_gb

NAN = float("nan")
#: the engine's per-phase peaks (CUDA: allocated and reserved; CPU: RSS growth, no reserved)
PHASE_PEAKS = (
    "prefill_peak_bytes",
    "prefill_peak_reserved_bytes",
    "decode_peak_bytes",
    "decode_peak_reserved_bytes",
)


def _median(values: list[Any]) -> float:
    return summarize([float(v) for v in values if v is not None])["median"]


def config_row(cfg: RunConfig, arch: ArchSpec, n: int, dtype_bytes: int, common: Mapping[str, Any]) -> dict:
    """One CSV row for one method config at one length (ratios are filled in by ``add_ratios``).

    Everything method-specific (kept KV per layer, ideal FLOPs, layer calls) is asked of the method.
    """
    runs = cfg.runs
    method = cfg.method
    resolved = runs[-1]["method_config"] if runs else method.to_dict()
    layer = selection_layer_of(cfg)
    layers_seen = sorted({r["selection_layer"] for r in runs}, key=lambda x: -1 if x is None else x)
    ttft = summarize([r["ttft_s"] for r in runs])
    tpot = summarize([r["tpot_s"] for r in runs])
    kv = check_kv(method, arch, n, layer, runs[-1]["kv_lengths"], runs[-1]["kv_cache_bytes"], dtype_bytes)
    kv_stable = all(r["kv_cache_bytes"] == runs[-1]["kv_cache_bytes"] for r in runs)
    new_tokens = {r["new_tokens"] for r in runs}
    k = getattr(method, "num_keep", None) or resolved.get("kv_budget")
    flops = method.prefill_flops(arch, n, layer)
    return {
        **common,
        "method": cfg.label,
        "method_label": method.label,
        "method_config": json.dumps(method.to_config(), sort_keys=True),
        "kv_before": resolved.get("kv_before"),
        "context_length": n,
        "kv_budget": cfg.budget,
        "select_k": k,
        "selection_layer": layer,
        "selection_layers_seen": "|".join(str(x) for x in layers_seen),
        "layer_source": cfg.layer_source,
        "decode_ops_per_layer": cfg.decode_ops_per_layer,
        "filter_layer": resolved.get("filter_layer"),
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
        **{key: _median([r.get(key) for r in runs]) for key in PHASE_PEAKS},
        "attention_kernel": runs[-1].get("attention_kernel"),
        "decode_mode": runs[-1].get("decode_mode"),
        "decode_graph": runs[-1].get("decode_graph"),
        "decode_setup_s": _median([r.get("decode_setup_s") for r in runs]),
        "mlp_chunk": runs[-1].get("mlp_chunk"),
        "layers_run": runs[-1]["layers_run"],
        "layers_expected": method.layer_calls(arch.num_layers, layer),
        "kv_cache_bytes": runs[-1]["kv_cache_bytes"],
        **kv,
        "kv_bytes_stable": kv_stable,
        "ideal_flops": flops,
        "ideal_ttft_ratio": flops / full_prefill_flops(arch, n),
        "repeats": ttft["n"],
        **paper_efficiency(cfg.label, n, cfg.budget and k),
        "paper_kv_gb": paper_kv_gb(common.get("model"), cfg.label, n, cfg.budget),
        **_rho_summary(runs[-1].get("rel_variance") or {}),
        "monitor_reference_label": cfg.reference_for,
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
        if a.get("monitor_reference_label") is None:
            _monitor_overhead(a, rows)


def _monitor_overhead(a: dict, rows: list[dict]) -> None:
    """Adaptive-method TTFT over its twin's (the same layer work without the rule; see bench_loop)."""
    twin = next(
        (
            r
            for r in rows
            if r["context_length"] == a["context_length"]
            and r.get("monitor_reference_label") == a["method"]
            and r["kv_budget"] == a["kv_budget"]
        ),
        None,
    )
    if twin is not None and twin["ttft_s"] > 0:
        a["monitor_overhead"] = a["ttft_s"] / twin["ttft_s"]
        a["monitor_reference"] = twin["note"]
