"""The benchmark loop: warm-ups, then interleaved repeats of every method config at each length."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from asl.efficiency.measure import WallTimer, cleanup, read_peak, reset_peak

log = logging.getLogger("asl.efficiency")


@dataclass
class RunConfig:
    """One method configuration at one context length."""

    label: str  # row name: the method name, or "fastkv_forced" for the monitoring-overhead reference
    method_name: str  # name passed to build_method
    budget: int | None
    overrides: dict[str, Any]
    layer_source: str  # "rule" | "forced" | "fixed" | "none"
    note: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    prefill_peak: dict[str, int | None] = field(default_factory=dict)
    method: Any = None


def build(cfg: RunConfig, num_layers: int) -> None:
    """Build the method object, dropping force_layer where the method does not take it."""
    from asl import build_method

    try:
        cfg.method = build_method(cfg.method_name, num_layers=num_layers, **cfg.overrides)
    except ValueError as err:
        if "force_layer" not in cfg.overrides:
            raise
        cfg.overrides.pop("force_layer")
        cfg.layer_source = "rule"
        cfg.note = f"force_layer not supported ({err}); layer chosen by the rule"
        cfg.method = build_method(cfg.method_name, num_layers=num_layers, **cfg.overrides)


def method_configs(methods: list[str], budgets: list[int], force_layer: int | None) -> list[RunConfig]:
    """FullKV once per length (budget-independent), every other method once per budget."""
    out: list[RunConfig] = []
    if "fullkv" in methods:
        out.append(RunConfig("fullkv", "fullkv", None, {}, "none"))
    for budget in budgets:
        for name in methods:
            if name == "fullkv":
                continue
            overrides: dict[str, Any] = {"kv_budget": budget}
            source = {"snapkv": "none"}.get(name, "fixed")
            if name.startswith("asl"):
                source = "rule"
                if force_layer is not None:
                    overrides["force_layer"] = force_layer
                    source = "forced"
            out.append(RunConfig(name, name, budget, overrides, source))
    return out


def one_run(model: Any, tokenizer: Any, ids: list[int], cfg: RunConfig, steps: int, device: torch.device):
    """One measured generate() call (peaks reset before it); returns the per-run record."""
    from asl import generate

    reset_peak(device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with WallTimer(device) as timer:
        res = generate(model, tokenizer, ids, cfg.method, max_new_tokens=steps, ignore_eos=True)
    rec = {
        "ttft_s": res.ttft_s,
        "load_avg_1m": load,
        "tpot_s": res.tpot_s,
        "wall_s": timer.seconds,
        "new_tokens": len(res.token_ids),
        "peak_memory_bytes": res.peak_memory_bytes,
        "peak_memory_kind": res.peak_memory_kind,
        "kv_cache_bytes": res.kv_cache_bytes,
        "kv_lengths": list(res.kv_lengths),
        "selection_layer": res.selection_layer,
        "rel_variance": {int(k): float(v) for k, v in (res.rel_variance or {}).items()},
        "method_config": dict(res.method_config),
        "layers_run": getattr(res, "layers_run", None),
        "engine_peak_reserved_bytes": getattr(res, "peak_memory_reserved_bytes", None),
        **read_peak(device),
    }
    del res
    cleanup(device)
    return rec


def prefill_peak(model: Any, tokenizer: Any, ids: list[int], cfg: RunConfig, device: torch.device):
    """Prefill-phase peak memory: a max_new_tokens=1 run with the peaks reset before it."""
    rec = one_run(model, tokenizer, ids, cfg, 1, device)
    return {
        "prefill_peak_allocated_bytes": rec["peak_allocated_bytes"],
        "prefill_peak_reserved_bytes": rec["peak_reserved_bytes"],
        "prefill_peak_memory_bytes": rec["peak_memory_bytes"],
    }


def forced_fastkv(asl_cfg: RunConfig, layer: int) -> RunConfig:
    """FastKV forced to ASL's chosen layer with ASL's kv_before / budget / k (monitoring-overhead reference)."""
    resolved = asl_cfg.runs[-1]["method_config"] if asl_cfg.runs else {}
    kv_before = resolved.get("kv_before") or ("full" if asl_cfg.method_name == "asl_fullbefore" else "snapkv")
    overrides = {"kv_budget": asl_cfg.budget, "tsp_layer": layer, "kv_before": kv_before}
    if resolved.get("select_k") is not None:
        overrides["select_k"] = resolved["select_k"]
    note = f"reference for {asl_cfg.label}: FastKV at ASL's layer {layer}"
    return RunConfig(f"fastkv_forced[{asl_cfg.label}]", "fastkv", asl_cfg.budget, overrides, "forced", note)


def selection_layer_of(cfg: RunConfig) -> int | None:
    """The most common selection layer over the config's runs (None if the rule never fired)."""
    layers = Counter(r["selection_layer"] for r in cfg.runs)
    return layers.most_common(1)[0][0] if layers else None


def bench_length(model: Any, tokenizer: Any, ids: list[int], s: Any, device: torch.device) -> list[RunConfig]:
    """Warm-ups for every config, the forced-FastKV references, then interleaved repeats."""
    num_layers = model.config.num_hidden_layers
    configs = method_configs(s.methods, s.budgets, s.force_layer)
    for cfg in configs:
        build(cfg, num_layers)
    pending = list(configs)
    while pending:
        cfg = pending.pop(0)
        for _ in range(max(1, s.warmups)):
            warm = one_run(model, tokenizer, ids, cfg, s.decode_steps, device)
            log.info(
                "warm-up %s N=%d ttft=%.3fs layer=%s",
                cfg.label,
                len(ids),
                warm["ttft_s"],
                warm["selection_layer"],
            )
        cfg.runs.append(warm)  # kept only to resolve the layer; dropped below
        if s.monitor_overhead and cfg.method_name in ("asl", "asl_fullbefore"):
            layer = warm["selection_layer"]
            if layer is not None and layer < num_layers - 1:
                ref = forced_fastkv(cfg, int(layer))
                build(ref, num_layers)
                configs.append(ref)
                pending.insert(0, ref)
        cfg.runs.clear()
        if s.phase_memory:
            cfg.prefill_peak = prefill_peak(model, tokenizer, ids, cfg, device)
    for rep in range(s.repeats):
        for cfg in configs:
            rec = one_run(model, tokenizer, ids, cfg, s.decode_steps, device)
            cfg.runs.append(rec)
            log.info(
                "rep %d %s N=%d ttft=%.3fs tpot=%s", rep, cfg.label, len(ids), rec["ttft_s"], rec["tpot_s"]
            )
    return configs
