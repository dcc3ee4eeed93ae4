"""Operator profiles of one prefill per method (torch.profiler), to find where TTFT goes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from asl.efficiency.bench_loop import RunConfig, one_run
from asl.efficiency.measure import cleanup


def profile_configs(
    model: Any,
    tokenizer: Any,
    ids: list[int],
    configs: list[RunConfig],
    out_dir: Path,
    s: Any,
    rows: int = 25,
) -> dict[str, float]:
    """Profile a max_new_tokens=1 generate() per config (after a warm-up); write one table per config.

    Returns {label: profiled TTFT seconds}. Tables sort by self device time on CUDA, self CPU time on CPU.
    """
    device = next(model.parameters()).device
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sort_key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    out_dir.mkdir(parents=True, exist_ok=True)
    ttft: dict[str, float] = {}
    first_token = dataclasses.replace(s, decode_steps=1)
    for cfg in configs:
        one_run(model, tokenizer, ids, cfg, first_token, device)  # warm-up
        with profile(activities=activities) as prof:
            rec = one_run(model, tokenizer, ids, cfg, first_token, device)
        ttft[cfg.label] = rec["ttft_s"]
        table = prof.key_averages().table(sort_by=sort_key, row_limit=rows)
        name = cfg.label.replace("[", "_").replace("]", "")
        header = f"# {cfg.label} N={len(ids)} ttft={rec['ttft_s']:.3f}s layer={rec['selection_layer']}\n"
        (out_dir / f"profile_{name}_{len(ids)}.txt").write_text(header + table + "\n")
        del prof
        cleanup(device)
    return ttft


def layer_times(
    model: Any, tokenizer: Any, ids: list[int], cfg: RunConfig, s: Any
) -> list[tuple[int, int, float]]:
    """(layer, tokens in, seconds) per decoder-layer call of one prefill, via forward hooks (synchronised)."""
    import time

    from asl.engine.layer_loop import decoder_parts

    device = next(model.parameters()).device
    _, _, layers, _, _ = decoder_parts(model)
    calls: list[tuple[int, int, float]] = []
    starts: dict[int, float] = {}

    def pre(index: int):
        def hook(_module, args, kwargs=None):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            starts[index] = time.perf_counter()

        return hook

    def post(index: int):
        def hook(_module, args, output):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            calls.append((index, int(args[0].shape[1]) if args else -1, time.perf_counter() - starts[index]))

        return hook

    handles = [layer.register_forward_pre_hook(pre(i)) for i, layer in enumerate(layers)]
    handles += [layer.register_forward_hook(post(i)) for i, layer in enumerate(layers)]
    try:
        one_run(model, tokenizer, ids, cfg, dataclasses.replace(s, decode_steps=1), device)
    finally:
        for h in handles:
            h.remove()
    return calls
