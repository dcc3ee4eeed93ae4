"""Time floors and the memory model: what the device's ceilings allow, for measured rows and predictions.

* ``tpot_floor_s``: the bytes a decode step must read (every weight but the embedding table, plus the
  row's KV entries, growing by one per layer and step: the mean over the decode steps) over the measured
  copy bandwidth.
* ``ttft_floor_s``: the method's ideal prefill FLOPs (``prefill_flops``) over the measured dense matmul rate.
* ``peak_predicted_bytes``: weights + the row's KV with its decode room + the prefill working set of the
  engine's layer loop on N tokens (``asl.cost_model.prefill_working_bytes``); an upper bound, since it
  adds the whole cache to the working set of the first layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asl.cost_model import ArchSpec, decode_read_bytes, kv_bytes, kv_entry_bytes, prefill_working_bytes
from asl.efficiency.device import DeviceRates

NAN = float("nan")


@dataclass(frozen=True)
class FloorInputs:
    """What the floors need besides each row: the model's sizes, the decode length and the device."""

    arch: ArchSpec
    dtype_bytes: int
    weights_bytes: int  # every parameter
    decode_weight_bytes: int  # read per decode step (asl.cost_model.decode_weight_bytes on the real model)
    decode_steps: int
    mlp_chunk: int | None
    rates: DeviceRates


def decode_kv_entries(kv_cache_bytes: int, f: FloorInputs) -> float:
    """Mean cached entries (all layers) a decode step reads: the prompt KV plus the steps' own entries."""
    prompt = kv_cache_bytes / kv_entry_bytes(f.arch, f.dtype_bytes)
    return prompt + f.arch.num_layers * f.decode_steps / 2


def tpot_floor(kv_cache_bytes: int, f: FloorInputs) -> float:
    """Seconds a decode step needs at the copy bandwidth."""
    entries = round(decode_kv_entries(kv_cache_bytes, f))
    return decode_read_bytes(f.arch, f.decode_weight_bytes, entries, f.dtype_bytes) / f.rates.copy_bytes_per_s


def predicted_peak(n: int, kv_cache_bytes: int, f: FloorInputs) -> int:
    """Prefill peak of the memory model: weights + KV (with decode room) + the working set on n tokens."""
    room = f.arch.num_layers * f.decode_steps * kv_entry_bytes(f.arch, f.dtype_bytes)
    return (
        f.weights_bytes + kv_cache_bytes + room + prefill_working_bytes(f.arch, n, f.dtype_bytes, f.mlp_chunk)
    )


def add_floors(rows: list[dict[str, Any]], f: FloorInputs) -> None:
    """Floor, over-floor and predicted-peak columns of every measured row (in place)."""
    for r in rows:
        r["tpot_floor_s"] = tpot_floor(r["kv_cache_bytes"], f)
        r["ttft_floor_s"] = r["ideal_flops"] / f.rates.matmul_flops_per_s
        tpot = r.get("tpot_s")
        r["tpot_over_floor"] = tpot / r["tpot_floor_s"] if tpot == tpot and tpot is not None else NAN
        r["ttft_over_floor"] = r["ttft_s"] / r["ttft_floor_s"]
        r["peak_predicted_bytes"] = predicted_peak(r["context_length"], r["kv_cache_bytes"], f)


def prediction_row(method: Any, n: int, f: FloorInputs, efficiency: float) -> dict[str, Any]:
    """The cost and memory models for one method configuration on an n-token prompt."""
    layer = method.planned_layer()
    kv = kv_bytes(f.arch, method.kv_lengths(n, f.arch.num_layers, layer), f.dtype_bytes)
    flops = method.prefill_flops(f.arch, n, layer)
    peak = predicted_peak(n, kv, f)
    return {
        "method": method.name,
        "label": method.label,
        "context_length": n,
        "selection_layer": layer,
        "ideal_flops": flops,
        "ttft_floor_s": flops / f.rates.matmul_flops_per_s,
        "ttft_expected_s": flops / (f.rates.matmul_flops_per_s * efficiency),
        "tpot_floor_s": tpot_floor(kv, f),
        "kv_cache_bytes": kv,
        "working_set_bytes": prefill_working_bytes(f.arch, n, f.dtype_bytes, f.mlp_chunk),
        "peak_predicted_bytes": peak,
        "fits": None if f.rates.fits_bytes is None else peak <= f.rates.fits_bytes,
    }
