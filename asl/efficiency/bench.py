"""Top level of the efficiency benchmark: load, run every length, compute rows, write the reports."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from asl.efficiency.flops import ArchSpec
from asl.efficiency.measure import cleanup, device_name, run_metadata
from asl.efficiency.prompts import build_prompt_ids
from asl.efficiency.report import write_all
from asl.efficiency.rows import add_ratios, config_row
from asl.efficiency.runner import bench_length
from asl.efficiency.setup import REPO, BenchSettings, fallback_tokenizer, load_bench_model

log = logging.getLogger("asl.efficiency")


def result_dir(s: BenchSettings) -> Path:
    """results/efficiency/<model>[-random]/ unless ``out_dir`` is set."""
    if s.out_dir:
        return Path(s.out_dir)
    suffix = "-random" if s.weights == "random" and s.arch else ""
    return REPO / "results" / "efficiency" / f"{s.model}{suffix}"


def run(s: BenchSettings) -> tuple[list[dict[str, Any]], Path]:
    """Run the whole benchmark described by ``s``; returns the rows and the output directory."""
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
    }
    rows: list[dict[str, Any]] = []
    prompt_source = ""
    max_ctx = getattr(getattr(model, "asl_spec", None), "max_context", None)
    for n in s.lengths:
        if max_ctx and n > max_ctx:
            raise ValueError(f"context length {n} exceeds {s.model}'s max_context {max_ctx}")
        ids, prompt_source = build_prompt_ids(s.prompt, n, vocab, tokenizer, fallback, seed=s.seed + n)
        log.info("N=%d prompt=%s", n, prompt_source)
        configs = bench_length(model, tokenizer, ids, s, device)
        rows.extend(
            config_row(c, arch, n, dtype_bytes, {**common, "prompt_source": prompt_source}) for c in configs
        )
        cleanup(device)
    add_ratios(rows)
    meta = {
        "model": s.model,
        "weights": s.weights,
        **run_metadata(device, REPO),
        "dtype": str(model.dtype),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "arch": arch.to_dict(),
        "settings": s.to_dict(),
        "prompt_source": prompt_source,
        "weights_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "method_configs": sorted({(r["method"], str(r.get("kv_budget"))) for r in rows}),
        "elapsed_s": round(time.time() - start, 1),
    }
    out = result_dir(s)
    write_all(rows, meta, out)
    return rows, out
