"""The benchmark loop: warm-ups, then interleaved repeats of every method configuration at one length."""

from __future__ import annotations

import gc
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from asl.efficiency.measure import WallTimer, reset_peak
from asl.engine.op_count import decode_ops_for_lengths
from asl.methods.base import PruningMethod
from asl.methods.registry import build_method, method_node

log = logging.getLogger("asl.efficiency")


@dataclass
class RunConfig:
    """One method configuration at one context length, and its measured runs."""

    label: str  # row name: the method name, or "fastkv_forced[asl]" for a monitoring-overhead reference
    method: PruningMethod
    budget: int | None
    layer_source: str  # "rule" | "forced" | "fixed" | "none"
    note: str = ""
    reference_for: str | None = None  # the label of the adaptive method this twin measures
    runs: list[dict[str, Any]] = field(default_factory=list)
    decode_ops_per_layer: float | None = None  # aten ops per layer of the static decode step (op_count)


def layer_source(node: dict[str, Any], forced: bool) -> str:
    """How a configuration's selection layer comes about, read from its keys (not its name)."""
    if "force_layer" in node:
        return "forced" if forced else "rule"
    from asl.methods.registry import method_class

    return "fixed" if method_class(node["_target_"]).layer_keys else "none"


def method_configs(
    methods: list[str], budgets: list[int], force_layer: int | None, num_layers: int
) -> list[RunConfig]:
    """Methods without a KV budget run once per length; every other one once per budget."""
    out: list[RunConfig] = []
    for name in methods:
        node = method_node(name)
        forced = force_layer is not None and "force_layer" in node
        extra = {"force_layer": force_layer} if forced else {}
        for budget in budgets if "kv_budget" in node else [None]:
            params = extra | ({} if budget is None else {"kv_budget": budget})
            method = build_method(name, num_layers=num_layers, **params)
            out.append(RunConfig(name, method, budget, layer_source(node, forced)))
    return out


def one_run(
    model: Any, tokenizer: Any, ids: list[int], cfg: RunConfig, s: Any, device: torch.device
) -> dict[str, Any]:
    """One measured generate() call (``s.decode_steps`` tokens, EOS ignored); returns the per-run record.

    Peaks are the engine's, per phase: prefill (and the first token), then the decode steps.
    """
    from asl import generate

    reset_peak(device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with WallTimer(device) as timer:
        res = generate(
            model,
            tokenizer,
            ids,
            cfg.method,
            max_new_tokens=s.decode_steps,
            ignore_eos=True,
            decode_mode=s.decode_mode,
            mlp_chunk=s.mlp_chunk,
        )
    cuda = device.type == "cuda"
    rec = {
        "ttft_s": res.ttft_s,
        "load_avg_1m": load,
        "tpot_s": res.tpot_s,
        "wall_s": timer.seconds,
        "new_tokens": len(res.token_ids),
        "peak_memory_bytes": res.peak_memory_bytes,
        "peak_memory_kind": res.peak_memory_kind,
        "peak_allocated_bytes": res.peak_memory_bytes if cuda else None,
        "peak_reserved_bytes": res.peak_memory_reserved_bytes,
        "prefill_peak_bytes": res.prefill_peak_bytes,
        "prefill_peak_reserved_bytes": res.prefill_peak_reserved_bytes,
        "decode_peak_bytes": res.decode_peak_bytes,
        "decode_peak_reserved_bytes": res.decode_peak_reserved_bytes,
        "kv_cache_bytes": res.kv_cache_bytes,
        "kv_lengths": list(res.kv_lengths),
        "selection_layer": res.selection_layer,
        "rel_variance": {int(k): float(v) for k, v in (res.rel_variance or {}).items()},
        "method_config": dict(res.method_config),
        "layers_run": res.layers_run,
        "attention_kernel": res.attention_kernel,
        "decode_mode": res.decode_mode,
        "decode_graph": res.decode_graph,
        "decode_setup_s": res.decode_setup_s,
        "decode_graph_status": res.decode_graph_status,
        "attention_reason": res.attention_reason,
        "mlp_chunk": res.mlp_chunk,
    }
    del res
    gc.collect()  # the allocator's cache stays warm between runs (measure.ALLOCATOR_POLICY)
    return rec


def overhead_twin(cfg: RunConfig, layer: int | None, num_layers: int) -> RunConfig | None:
    """The configuration doing ``cfg``'s layer work without its rule (the method names it), or None."""
    reference = cfg.method.overhead_reference(layer)
    if reference is None:
        return None
    name, params = reference
    method = build_method(name, num_layers=num_layers, **params)
    where = f"layer {layer}" if layer is not None else "no selection (the rule never fired)"
    note = f"reference for {cfg.label}: {name} at {where}"
    twin = RunConfig(
        f"{name}_forced[{cfg.label}]", method, cfg.budget, "forced", note, reference_for=cfg.label
    )
    return twin


def selection_layer_of(cfg: RunConfig) -> int | None:
    """The most common selection layer over the config's runs (None if the rule never fired)."""
    layers = Counter(r["selection_layer"] for r in cfg.runs)
    return layers.most_common(1)[0][0] if layers else None


def bench_length(model: Any, tokenizer: Any, ids: list[int], s: Any, device: torch.device) -> list[RunConfig]:
    """Warm-ups for every config, the adaptive methods' fixed-layer twins, then interleaved repeats."""
    num_layers = model.config.num_hidden_layers
    configs = method_configs(s.methods, s.budgets, s.force_layer, num_layers)
    pending = list(configs)
    while pending:
        cfg = pending.pop(0)
        for _ in range(max(1, s.warmups)):
            warm = one_run(model, tokenizer, ids, cfg, s, device)
            log.info(
                "warm-up %s N=%d ttft=%.3fs layer=%s",
                cfg.label,
                len(ids),
                warm["ttft_s"],
                warm["selection_layer"],
            )
        if s.monitor_overhead and cfg.reference_for is None:
            twin = overhead_twin(cfg, warm["selection_layer"], num_layers)
            if twin is not None:
                configs.append(twin)
                pending.insert(0, twin)
    for rep in range(s.repeats):
        for cfg in configs:
            rec = one_run(model, tokenizer, ids, cfg, s, device)
            cfg.runs.append(rec)
            log.info(
                "rep %d %s N=%d ttft=%.3fs tpot=%s", rep, cfg.label, len(ids), rec["ttft_s"], rec["tpot_s"]
            )
    for cfg in configs:
        if cfg.runs:
            cfg.decode_ops_per_layer = decode_ops_for_lengths(
                model, cfg.runs[-1]["kv_lengths"], s.decode_steps
            )
    return configs
