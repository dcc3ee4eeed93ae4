"""FastKV: SnapKV up to the TSP layer, then propagate k tokens at their original positions (methods.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import Session, check
from asl.methods.selectors import FixedLayerSelector
from asl.methods.sessions import OnePassSession, SnapKVCompressor
from baselines.snapkv import WindowedMethod

KV_BEFORE_CHOICES = ("snapkv", "full")


@dataclass(frozen=True)
class PropagatingMethod(WindowedMethod):
    """Shared by FastKV and ASL: ``select_k`` propagated tokens and the KV policy before selection."""

    select_k: int | None = None
    kv_before: str = "snapkv"

    @property
    def num_keep(self) -> int:
        """k, the propagated tokens (window included); defaults to the KV budget."""
        return self.select_k if self.select_k is not None else self.kv_budget

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check(
            self.kv_before in KV_BEFORE_CHOICES,
            f"{self.name}: kv_before must be one of {', '.join(KV_BEFORE_CHOICES)}, got {self.kv_before!r}",
        )
        check(
            self.num_keep > self.window,
            f"{self.name}: select_k ({self.num_keep}) must be larger than the window ({self.window})",
        )

    def compressor(self) -> SnapKVCompressor | None:
        """SnapKV compression when ``kv_before=snapkv``; ``full`` keeps every entry before selection."""
        return SnapKVCompressor(self.kv_budget, self.window) if self.kv_before == "snapkv" else None


@dataclass(frozen=True)
class FastKV(PropagatingMethod):
    """Token-selective propagation at a fixed layer ``tsp_layer``."""

    name: str = "fastkv"
    tsp_layer: int | None = None
    layer_keys = ("tsp_layer",)

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        selector = FixedLayerSelector(self.tsp_layer, self.num_keep, self.window)
        return OnePassSession(
            num_layers, prompt_len, self.window, self.pool_kernel, self.compressor(), selector
        )
