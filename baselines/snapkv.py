"""SnapKV: per-KV-head KV compression after each layer's prefill attention (methods.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import Session, check
from asl.methods.families import WindowedMethod
from asl.methods.sessions import OnePassSession, SnapKVCompressor


def _no_uncompressed_layers(num_layers: int) -> tuple[int, ...]:
    """Standard SnapKV compresses every layer ([decision], methods.md §2)."""
    return ()


@dataclass(frozen=True, kw_only=True)
class SnapKV(WindowedMethod):
    """Keep the top-(C - w) prefix entries plus the window per KV head, at every layer."""

    uncompressed_layers: tuple[int, ...] | None

    display_name = "SnapKV"
    color = "#8C8C8C"
    marker = "v"
    order = 10
    model_keys = {"uncompressed_layers": _no_uncompressed_layers}

    def __post_init__(self) -> None:
        if self.uncompressed_layers is not None:
            object.__setattr__(self, "uncompressed_layers", tuple(self.uncompressed_layers))

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        for layer in self.uncompressed_layers or ():
            check(
                isinstance(layer, int) and not isinstance(layer, bool) and layer >= 0,
                f"{self.name}: uncompressed_layers must hold non-negative layer indices, got {layer!r}",
            )

    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        skip = set(self.uncompressed_layers or ())
        return [n if layer in skip else min(self.kv_budget, n) for layer in range(num_layers)]

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        compressor = SnapKVCompressor(self.kv_budget, self.window, self.uncompressed_layers or ())
        return OnePassSession(num_layers, prompt_len, self.window, self.pool_kernel, compressor)
