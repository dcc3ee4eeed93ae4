"""The exact-bytes KV check: the engine's KV against the method's own arithmetic (``kv_lengths``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asl.cost_model import ArchSpec, kv_bytes
from asl.methods.base import PruningMethod


def check_kv(
    method: PruningMethod,
    arch: ArchSpec,
    n: int,
    selection_layer: int | None,
    kv_lengths: Sequence[int],
    reported_bytes: int,
    dtype_bytes: int,
) -> dict[str, Any]:
    """Compare the engine's KV bytes and per-layer lengths with the method's arithmetic; check columns."""
    expected_lengths = method.kv_lengths(n, arch.num_layers, selection_layer)
    from_lengths = kv_bytes(arch, kv_lengths, dtype_bytes)
    expected = kv_bytes(arch, expected_lengths, dtype_bytes)
    return {
        "kv_bytes_expected": expected,
        "kv_lengths_ok": list(kv_lengths) == expected_lengths,
        "kv_bytes_ok": int(reported_bytes) == from_lengths == expected,
    }
