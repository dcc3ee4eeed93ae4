"""The one-pass session shared by every method that prefills once, and the SnapKV-style compressor.

A one-pass session runs every layer on its current tokens; per layer it may compress the KV that layer
caches (a *compressor*) and it may pick tokens to propagate to deeper layers (a *selector*). FullKV has
neither, SnapKV a compressor, FastKV and ASL both. Two-pass sessions are method-specific and live with
their methods.
"""

from __future__ import annotations

from typing import Protocol

import torch

from asl.methods.base import CONTINUE, LayerAction, LayerScores, Session
from asl.token_scoring import gather_kv, snapkv_keep_indices


class Selector(Protocol):
    """Chooses the layer and the tokens to propagate (FastKV's fixed layer, ASL's rule)."""

    selected_layer: int | None
    keep: torch.Tensor | None

    def wants_scores(self, layer: int) -> bool: ...
    def observe(self, layer: int, scores: LayerScores) -> None: ...
    def rel_variance(self) -> dict[int, float]: ...


class Compressor(Protocol):
    """Chooses the KV entries a layer caches after its prefill attention."""

    def applies(self, layer: int, length: int) -> bool: ...
    def compress(
        self, layer: int, key: torch.Tensor, value: torch.Tensor, scores: LayerScores
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class SnapKVCompressor:
    """Per-KV-head top-(budget - window) prefix entries by window score plus the window (methods.md §2).

    ``budget_of`` gives a layer's budget (constant here; subclasses may vary it by depth); layers in
    ``skip_layers`` keep every entry.
    """

    def __init__(self, budget: int, window: int, skip_layers: tuple[int, ...] = ()):
        self.budget, self.window, self.skip_layers = budget, window, frozenset(skip_layers)

    def budget_of(self, layer: int) -> int | None:
        """Entries layer ``layer`` keeps (window included); None keeps every entry."""
        return None if layer in self.skip_layers else self.budget

    def applies(self, layer: int, length: int) -> bool:
        budget = self.budget_of(layer)
        return budget is not None and length > budget

    def compress(
        self, layer: int, key: torch.Tensor, value: torch.Tensor, scores: LayerScores
    ) -> tuple[torch.Tensor, torch.Tensor]:
        indices = snapkv_keep_indices(scores.kv_scores, self.budget_of(layer), self.window)
        return gather_kv(key, indices), gather_kv(value, indices)


class OnePassSession(Session):
    """FullKV, SnapKV, FastKV, ASL and other one-pass methods: an optional compressor and selector."""

    def __init__(
        self,
        num_layers: int,
        prompt_len: int,
        window: int = 1,
        pool_kernel: int = 1,
        compressor: Compressor | None = None,
        selector: Selector | None = None,
    ):
        super().__init__(num_layers, prompt_len)
        self.window, self.pool_kernel = window, pool_kernel
        self.compressor, self.selector = compressor, selector
        self._length = prompt_len

    def on_attention(self, layer, query, key, value, scaling):
        self._length = length = key.shape[2]
        if length <= self.window or (self.compressor is None and self.selector is None):
            return key, value  # FullKV, or nothing to score: no per-layer work
        scores = LayerScores(query, key, self.window, self.pool_kernel, scaling)
        if self.selector is not None and self.selector.wants_scores(layer):
            self.selector.observe(layer, scores)
        if self.compressor is not None and self.compressor.applies(layer, length):
            return self.compressor.compress(layer, key, value, scores)
        return key, value

    def after_layer(self, layer: int) -> LayerAction:
        selector = self.selector
        if selector is None or selector.selected_layer != layer:
            return CONTINUE
        self.selection_layer = layer
        self.rel_variance = selector.rel_variance()
        keep = selector.keep
        if keep is None or keep.shape[0] >= self._length:
            return CONTINUE  # short prompt: the set is every token, nothing to prune
        return LayerAction(keep=keep)

    @property
    def selection_fired(self) -> bool | None:
        """None without a selector (FullKV, SnapKV); else whether it chose a layer."""
        return None if self.selector is None else self.selection_layer is not None

    def finish(self) -> None:
        if self.selector is not None:
            self.rel_variance = self.selector.rel_variance()
