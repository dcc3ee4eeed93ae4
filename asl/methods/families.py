"""Shared bases of the method families: window-scored, propagating (one pass) and two-pass methods.

They hold the parameters and the self-description common to a family, so that a concrete method (in
``baselines/`` or ``asl/methods/asl.py``) is a few lines: its own fields, its display and its session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from asl.cost_model import ArchSpec, propagated_prefill_flops, two_pass_prefill_flops
from asl.methods.base import Display, PruningMethod, check, check_cap, check_int, reference_cap
from asl.methods.sessions import SnapKVCompressor

KV_BEFORE_CHOICES = ("snapkv", "full")


@dataclass(frozen=True, kw_only=True)
class WindowedMethod(PruningMethod):
    """Methods scored by the last-``window`` attention (SnapKV, FastKV, ASL, PyramidKV): C, w, pooling."""

    kv_budget: int
    window: int
    pool_kernel: int

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        for key in ("kv_budget", "window", "pool_kernel"):
            check_int(self, key, getattr(self, key), minimum=1, what="a positive integer")
        check(
            self.kv_budget > self.window,
            f"{self.name}: kv_budget ({self.kv_budget}) must be larger than the window ({self.window})",
        )
        check(self.pool_kernel % 2 == 1, f"{self.name}: pool_kernel must be odd, got {self.pool_kernel}")


@dataclass(frozen=True, kw_only=True)
class PropagatingMethod(WindowedMethod):
    """FastKV and ASL: SnapKV (or Full) KV before selection, then ``select_k`` tokens propagate at their
    original positions after the selection layer's MLP (methods.md §4-§7)."""

    select_k: int | None
    kv_before: str

    #: colour of the "Full KV before selection" variant (the SnapKV-before one uses ``color``)
    full_before_color: ClassVar[str] = "#888888"

    @property
    def num_keep(self) -> int:
        """k, the propagated tokens (window included); defaults to the KV budget."""
        return self.select_k if self.select_k is not None else self.kv_budget

    @property
    def full_before(self) -> bool:
        """True for the "Full KV before selection, budget after" variant."""
        return self.kv_before == "full"

    def display(self) -> Display:
        if self.full_before:
            label = f"{self.display_name} (Full before)"
            return Display(label, self.full_before_color, self.marker, dashed=True, order=self.order + 100)
        return super().display()

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check(
            self.kv_before in KV_BEFORE_CHOICES,
            f"{self.name}: kv_before must be one of {', '.join(KV_BEFORE_CHOICES)}, got {self.kv_before!r}",
        )
        if self.select_k is not None:
            check_int(self, "select_k", self.select_k, minimum=1, what="null or a positive integer")
        check(
            self.num_keep > self.window,
            f"{self.name}: select_k ({self.num_keep}) must be larger than the window ({self.window})",
        )

    def compressor(self) -> SnapKVCompressor | None:
        """SnapKV compression when ``kv_before=snapkv``; ``full`` keeps every entry before selection."""
        return None if self.full_before else SnapKVCompressor(self.kv_budget, self.window)

    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        before = n if self.full_before else min(self.kv_budget, n)
        if selection_layer is None or n <= self.num_keep:
            return [before] * num_layers
        after = self.num_keep if self.full_before else min(self.kv_budget, self.num_keep)
        return [before if layer <= selection_layer else after for layer in range(num_layers)]

    def prefill_flops(self, arch: ArchSpec, n: int, selection_layer: int | None) -> int:
        return propagated_prefill_flops(arch, n, self.num_keep, selection_layer)

    def trunk_layers(self, num_layers: int, n: int, selection_layer: int | None) -> int:
        if selection_layer is None or n <= self.num_keep or selection_layer >= num_layers - 1:
            return num_layers
        return selection_layer + 1  # it forks after its selection layer


@dataclass(frozen=True, kw_only=True)
class TwoPassMethod(PruningMethod):
    """GemFilter and ASL_2pass: pass 1 picks ``kv_budget`` input ids, pass 2 re-prefills them from scratch
    at positions 0..k-1 (methods.md §3, §6)."""

    kv_budget: int
    max_new_tokens_cap: int | None

    two_pass: ClassVar[bool] = True

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check_int(self, "kv_budget", self.kv_budget, minimum=1, what="a positive integer")
        check_cap(self, self.max_new_tokens_cap)

    def pass1_layer(self, num_layers: int, selection_layer: int | None) -> int:
        """The last layer pass 1 runs (the selection layer)."""
        return num_layers - 1 if selection_layer is None else selection_layer

    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        return [min(self.kv_budget, n)] * num_layers

    def prefill_flops(self, arch: ArchSpec, n: int, selection_layer: int | None) -> int:
        layer = self.pass1_layer(arch.num_layers, selection_layer)
        return two_pass_prefill_flops(arch, n, self.kv_budget, layer)

    def layer_calls(self, num_layers: int, selection_layer: int | None) -> int:
        return self.pass1_layer(num_layers, selection_layer) + 1 + num_layers

    def trunk_layers(self, num_layers: int, n: int, selection_layer: int | None) -> int:
        return self.pass1_layer(num_layers, selection_layer) + 1  # pass 1 leaves after its selection

    def max_new_tokens(self, requested: int) -> int:
        return reference_cap(requested, self.max_new_tokens_cap)
