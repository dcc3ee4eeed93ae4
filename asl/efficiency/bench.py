"""Top level of the efficiency benchmark: load, run every length, compute rows, write the reports."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from asl.allocator import allocator_settings
from asl.cost_model import ArchSpec
from asl.efficiency.bench_loop import bench_length
from asl.efficiency.device import measure_rates
from asl.efficiency.floors import FloorInputs, add_floors
from asl.efficiency.measure import cleanup, device_name, run_metadata
from asl.efficiency.prompts import build_prompt_ids
from asl.efficiency.report import write_all
from asl.efficiency.rows import add_ratios, config_row
from asl.efficiency.settings import BenchSettings, fallback_tokenizer, load_bench_model, result_dir
from asl.paths import REPO_ROOT

log = logging.getLogger("asl.efficiency")


def _append_runs(path: Path, n: int, configs: list[Any], first: bool) -> None:
    """Raw per-run records (one JSON line per measured run) so reports can be recomputed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w" if first else "a") as fh:
        for cfg in configs:
            for i, rec in enumerate(cfg.runs):
                head = {"label": cfg.label, "n": n, "budget": cfg.budget, "repeat": i}
                extra = {"method": cfg.method.to_config(), "layer_source": cfg.layer_source}
                extra |= {"note": cfg.note, "reference_for": cfg.reference_for}
                fh.write(json.dumps({**head, **extra, **rec}) + "\n")


def write_profiles(model: Any, tokenizer: Any, ids: list[int], configs: list[Any], out: Path, s: Any) -> None:
    """Operator tables for every config and per-layer prefill times (profiles/layer_times_<N>.txt)."""
    from asl.efficiency.profile import layer_times, profile_configs

    profile_configs(model, tokenizer, ids, configs, out, s)
    lines = []
    for cfg in configs:
        calls = layer_times(model, tokenizer, ids, cfg, s)
        total = sum(t for _, _, t in calls)
        detail = " ".join(f"{i}:{n}:{t * 1e3:.0f}ms" for i, n, t in calls)
        lines.append(f"{cfg.label}: {len(calls)} layer calls, {total:.3f}s in layers | {detail}")
    (out / f"layer_times_{len(ids)}.txt").write_text("\n".join(lines) + "\n")


def run(s: BenchSettings) -> tuple[list[dict[str, Any]], Path]:
    """Run the whole benchmark described by ``s``; returns the rows and the output directory.

    ``s.threads`` sets torch's intra-op threads for the run only (restored afterwards).
    """
    previous = torch.get_num_threads()
    if s.threads:
        torch.set_num_threads(int(s.threads))
    try:
        return _run(s)
    finally:
        torch.set_num_threads(previous)


def _run(s: BenchSettings) -> tuple[list[dict[str, Any]], Path]:
    start = time.time()
    model, tokenizer = load_bench_model(s)
    device = next(model.parameters()).device
    arch = ArchSpec.from_config(model.config)
    dtype_bytes = next(model.parameters()).element_size()
    vocab = int(model.config.vocab_size)
    fallback = fallback_tokenizer() if tokenizer is None and s.prompt == "niah" else None
    common = {
        "model": s.model,
        "device": device_name(device),
        "weights": s.weights,
        "dtype": str(model.dtype),
        "alloc_conf": allocator_settings()["alloc_conf"],
    }
    rates = measure_rates(device, model.dtype, device_name(device))
    log.info("device rates: %s", rates)
    floors = floor_inputs(model, arch, dtype_bytes, s, rates)
    rows: list[dict[str, Any]] = []
    prompt_source = ""
    max_ctx = s.spec.max_context
    for n in s.lengths:
        if max_ctx and n > max_ctx:
            raise ValueError(f"context length {n} exceeds {s.model}'s max_context {max_ctx}")
        ids, prompt_source = build_prompt_ids(s.prompt, n, vocab, tokenizer, fallback, seed=s.seed + n)
        log.info("N=%d prompt=%s", n, prompt_source)
        configs = bench_length(model, tokenizer, ids, s, device)
        _append_runs(result_dir(s) / "runs.jsonl", n, configs, first=n == s.lengths[0])
        if s.profile_ops and n == max(s.lengths):
            write_profiles(model, tokenizer, ids, configs, result_dir(s) / "profiles", s)
        rows.extend(
            config_row(c, arch, n, dtype_bytes, {**common, "prompt_source": prompt_source}) for c in configs
        )
        cleanup(device)
        if n != s.lengths[-1]:  # partial results after every length (a long run can be inspected early)
            partial = [dict(r) for r in rows]
            add_ratios(partial)
            add_floors(partial, floors)
            write_all(
                partial,
                {**_meta(s, model, device, arch, prompt_source, partial, floors), "partial": True},
                result_dir(s),
            )
    add_ratios(rows)
    add_floors(rows, floors)
    meta = {
        **_meta(s, model, device, arch, prompt_source, rows, floors),
        "elapsed_s": round(time.time() - start, 1),
    }
    out = result_dir(s)
    write_all(rows, meta, out)
    return rows, out


def floor_inputs(model: Any, arch: ArchSpec, dtype_bytes: int, s: BenchSettings, rates: Any) -> FloorInputs:
    """The floors' inputs from the loaded model: its weight bytes, and those a decode step reads (every
    weight but the input embedding table, of which one row)."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    table = model.get_input_embeddings().weight
    tied = table is model.get_output_embeddings().weight
    # tied embeddings: the LM head reads the whole table anyway
    read = weights if tied else weights - table.numel() * table.element_size() + arch.hidden * dtype_bytes
    return FloorInputs(arch, dtype_bytes, weights, read, s.decode_steps, s.mlp_chunk or None, rates)


def _meta(
    s: BenchSettings,
    model: Any,
    device: torch.device,
    arch: ArchSpec,
    prompt_source: str,
    rows: list,
    floors: FloorInputs,
) -> dict:
    """Run metadata: versions, device, its measured rates, commit, model shapes, settings, method configs."""
    engine = {key: sorted({str(r.get(key)) for r in rows}) for key in ("attention_kernel", "decode_mode")}
    return {
        "model": s.model,
        "weights": s.weights,
        **run_metadata(device, REPO_ROOT),
        "dtype": str(model.dtype),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "arch": arch.to_dict(),
        "settings": s.to_dict(),
        "prompt_source": prompt_source,
        "weights_bytes": floors.weights_bytes,
        "decode_weight_bytes": floors.decode_weight_bytes,
        "device_rates": floors.rates.to_dict(),
        "mlp_chunk": floors.mlp_chunk,
        **engine,
        "method_configs": {f"{r['method']}@{r.get('kv_budget')}": r.get("_method_config") for r in rows},
    }
