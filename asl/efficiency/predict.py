"""``predict``: what the cost and memory models expect of every method at the given lengths, no model run.

Per method configuration and length: ideal prefill FLOPs, the TTFT floor (FLOPs / matmul rate) and the
expected TTFT (floor / ``prefill_efficiency``), the TPOT floor (bytes per step / copy bandwidth), the
KV bytes, the prefill working set and the predicted peak, and whether it fits the device's memory.
The bench writes this table for its own lengths with the rates it measured; ``predict=true`` writes it
for ``predict_lengths`` with ``reference_device`` (an H200 by default) without loading a model.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from asl.cost_model import ArchSpec, decode_weight_bytes, weight_params
from asl.efficiency.bench_loop import method_configs
from asl.efficiency.device import DeviceRates
from asl.efficiency.floors import FloorInputs, prediction_row

GB = 1e9
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def predict_rows(s: Any, f: FloorInputs, lengths: list[int]) -> list[dict[str, Any]]:
    """One prediction row per method configuration of the bench settings ``s`` and length."""
    layers = f.arch.num_layers
    preset = s.spec.layer_defaults()
    configs = method_configs(s.methods, s.budgets, s.force_layer, layers)
    rows = []
    for n in lengths:
        for cfg in configs:
            method = cfg.method.resolved(preset, layers)
            rows.append({**prediction_row(method, n, f, s.prefill_efficiency), "kv_budget": cfg.budget})
    return rows


def arch_of(s: Any) -> tuple[ArchSpec, bool]:
    """The model's shapes (its ``random_config``, else its HF config) and whether embeddings are tied."""
    config: Any = dict(s.spec.random_config)
    if not config:
        from transformers import AutoConfig

        from asl.models.embedded import checkpoint_dir

        location = checkpoint_dir(s.spec) if s.spec.source == "embedded" else s.spec.path
        config = AutoConfig.from_pretrained(str(location)).to_dict()
    return ArchSpec.from_config(config), bool(config.get("tie_word_embeddings", False))


def reference_inputs(s: Any) -> FloorInputs:
    """Floor inputs of ``predict=true``: the model's shapes in ``s.dtype`` (bf16 by default), the assumed device."""
    arch, tied = arch_of(s)
    dtype = s.dtype if s.dtype not in (None, "auto") else "bfloat16"
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
    b = DTYPE_BYTES[dtype]
    if not s.reference_device:
        raise ValueError("predict=true needs reference_device (configs/bench.yaml)")
    return FloorInputs(
        arch=arch,
        dtype_bytes=b,
        weights_bytes=weight_params(arch, tied) * b,
        decode_weight_bytes=decode_weight_bytes(arch, b, tied),
        decode_steps=s.decode_steps,
        mlp_chunk=s.mlp_chunk or None,
        rates=DeviceRates.from_dict(s.reference_device),
    )


def clip_lengths(s: Any, lengths: list[int]) -> tuple[list[int], list[str]]:
    """Lengths capped at the model's max_context (and notes saying which were)."""
    cap, out, notes = s.spec.max_context, [], []
    for n in lengths:
        if cap and n > cap:
            notes.append(f"{n} exceeds {s.model}'s max_context: predicted at {cap}")
            n = cap
        if n not in out:
            out.append(n)
    return out, notes


def predict_markdown(rows: list[dict[str, Any]], f: FloorInputs, title: str, notes: list[str]) -> list[str]:
    """The predict table (GB = 1e9 bytes) with the device and model it assumes."""
    r = f.rates
    lines = [
        title,
        "",
        f"- device: {r.name} ({r.source}): copy {r.copy_bytes_per_s / 1e12:.2f} TB/s, "
        f"{r.matmul_dtype} matmul {r.matmul_flops_per_s / 1e12:.1f} TFLOP/s, memory "
        f"{'-' if r.memory_bytes is None else f'{r.memory_bytes / GB:.1f} GB'}",
        f"- weights {f.weights_bytes / GB:.2f} GB ({f.decode_weight_bytes / GB:.2f} GB read per decode step), "
        f"MLP chunk {f.mlp_chunk or 'none'}, decode steps {f.decode_steps}",
        "- TTFT floor = ideal FLOPs / matmul rate; expected = floor / prefill efficiency; TPOT floor = bytes "
        "read per step / copy bandwidth; peak = weights + KV + decode room + prefill working set.",
        *[f"- {note}" for note in notes],
        "",
        "| N | method | budget | layer | TTFT floor s | TTFT expected s | TPOT floor ms | KV GB | working set GB "
        "| peak GB | fits |",
        "|" + "---|" * 11,
    ]
    for p in rows:
        fits = "–" if p["fits"] is None else ("yes" if p["fits"] else "**no**")
        lines.append(
            f"| {p['context_length']} | {p['method']} | {p['kv_budget'] or '–'} | {p['selection_layer'] if p['selection_layer'] is not None else '–'} "
            f"| {p['ttft_floor_s']:.2f} | {p['ttft_expected_s']:.2f} | {p['tpot_floor_s'] * 1e3:.2f} "
            f"| {p['kv_cache_bytes'] / GB:.2f} | {p['working_set_bytes'] / GB:.2f} | {p['peak_predicted_bytes'] / GB:.1f} | {fits} |"
        )
    return lines


def write_predictions(rows: list[dict[str, Any]], lines: list[str], out_dir: Path) -> None:
    """predict.md and predict.csv under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "predict.md").write_text("\n".join(lines) + "\n")
    with (out_dir / "predict.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def predict_only(s: Any) -> Path:
    """``predict=true``: the prediction table for ``s.predict_lengths`` (else ``s.lengths``); returns the folder."""
    from asl.efficiency.settings import result_dir

    f = reference_inputs(s)
    lengths, notes = clip_lengths(s, list(s.predict_lengths or s.lengths))
    rows = predict_rows(s, f, lengths)
    title = f"# Predicted efficiency: {s.model} ({f.dtype_bytes * 8}-bit) on {f.rates.name}"
    out = result_dir(s)
    write_predictions(rows, predict_markdown(rows, f, title, notes), out)
    return out
