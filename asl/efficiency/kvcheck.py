"""KV-cache size arithmetic and the exact-bytes check (issue item 5).

bytes = sum over layers of (KV heads x head_dim x 2 [K and V] x dtype bytes x kept tokens of that layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from asl.efficiency.flops import ArchSpec


def kv_bytes(a: ArchSpec, kv_lengths: Sequence[int], dtype_bytes: int) -> int:
    """KV-cache bytes of a cache holding ``kv_lengths[l]`` entries at layer l."""
    if len(kv_lengths) != a.num_layers:
        raise ValueError(f"kv_lengths has {len(kv_lengths)} layers, the model {a.num_layers}")
    per_token = a.kv_heads * a.head_dim * 2 * dtype_bytes
    return per_token * sum(int(n) for n in kv_lengths)


def expected_kv_lengths(
    method: str,
    cfg: Mapping[str, Any],
    n: int,
    num_layers: int,
    selection_layer: int | None,
) -> list[int]:
    """Prompt KV entries per layer that ``method`` should keep after prefill (methods.md §1-§7).

    ``cfg`` is the resolved method config (``GenerationResult.method_config``): kv_budget, select_k,
    kv_before, uncompressed_layers. ``selection_layer`` is the one-shot layer actually used.
    """
    base = method.split("@")[0]
    if base == "fullkv":
        return [n] * num_layers
    budget = cfg.get("kv_budget")
    if base == "snapkv":
        keep = n if budget is None else min(int(budget), n)
        skip = set(cfg.get("uncompressed_layers") or [])
        return [n if layer in skip else keep for layer in range(num_layers)]
    if base in ("gemfilter", "asl_2pass"):
        return [min(int(budget), n)] * num_layers
    if base in ("fastkv", "fastkv_fullbefore", "asl", "asl_fullbefore", "fastkv_forced"):
        k = int(cfg.get("select_k") or budget)
        full_before = cfg.get("kv_before") == "full" or budget is None
        before = n if full_before else min(int(budget), n)
        if selection_layer is None or n <= k:
            return [before] * num_layers
        after = k if full_before else min(int(budget), k)
        return [before if layer <= selection_layer else after for layer in range(num_layers)]
    raise ValueError(f"no KV arithmetic for method {method!r}")


def check_kv(
    a: ArchSpec,
    method: str,
    cfg: Mapping[str, Any],
    n: int,
    selection_layer: int | None,
    kv_lengths: Sequence[int],
    reported_bytes: int,
    dtype_bytes: int,
) -> dict[str, Any]:
    """Compare the engine's KV bytes and per-layer lengths with the arithmetic; returns check columns."""
    expected_lengths = expected_kv_lengths(method, cfg, n, a.num_layers, selection_layer)
    from_lengths = kv_bytes(a, kv_lengths, dtype_bytes)
    expected = kv_bytes(a, expected_lengths, dtype_bytes)
    return {
        "kv_bytes_expected": expected,
        "kv_lengths_ok": list(kv_lengths) == expected_lengths,
        "kv_bytes_ok": int(reported_bytes) == from_lengths == expected,
    }
