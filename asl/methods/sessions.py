"""Per-request sessions shared by the one-pass (SnapKV/FastKV/ASL) and two-pass (GemFilter/ASL_2pass) methods."""

from __future__ import annotations

from typing import Protocol

import torch

from asl.methods.base import CONTINUE, LayerAction, LayerScores, Session
from asl.scoring import gather_kv, gemfilter_scores, snapkv_keep_indices, top_k_ascending


class Selector(Protocol):
    selected_layer: int | None
    keep: torch.Tensor | None

    def wants_scores(self, layer: int) -> bool: ...
    def observe(self, layer: int, scores: LayerScores) -> None: ...
    def rel_variance(self) -> dict[int, float]: ...


class SnapKVCompressor:
    """Per-KV-head SnapKV compression of a layer's KV to ``budget`` entries (methods.md §2)."""

    def __init__(self, budget: int, window: int, skip_layers: tuple[int, ...] = ()):
        self.budget, self.window, self.skip_layers = budget, window, frozenset(skip_layers)

    def applies(self, layer: int, length: int) -> bool:
        return length > self.budget and layer not in self.skip_layers

    def compress(
        self, key: torch.Tensor, value: torch.Tensor, scores: LayerScores
    ) -> tuple[torch.Tensor, torch.Tensor]:
        indices = snapkv_keep_indices(scores.kv_scores, self.budget, self.window)
        return gather_kv(key, indices), gather_kv(value, indices)


class OnePassSession(Session):
    """FullKV, SnapKV, FastKV and ASL: optional per-layer compression plus an optional selector."""

    def __init__(
        self,
        num_layers: int,
        prompt_len: int,
        window: int,
        pool_kernel: int,
        compressor: SnapKVCompressor | None = None,
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
            return self.compressor.compress(key, value, scores)
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

    def finish(self) -> None:
        if self.selector is not None:
            self.rel_variance = self.selector.rel_variance()


class GemFilterSession(Session):
    """GemFilter pass 1: last-token q·k at the filter layer picks the input ids to re-run (methods.md §3)."""

    two_pass = True

    def __init__(
        self, num_layers, prompt_len, filter_layer: int, num_keep: int, pool_kernel: int, force_tail: int
    ):
        super().__init__(num_layers, prompt_len)
        self.filter_layer, self.num_keep = filter_layer, num_keep
        self.pool_kernel, self.force_tail = pool_kernel, force_tail
        self.keep: torch.Tensor | None = None

    def on_attention(self, layer, query, key, value, scaling):
        if layer == self.filter_layer:
            self.keep = gemfilter_selection(
                gemfilter_scores(query, key, self.pool_kernel), self.num_keep, self.force_tail
            )
        return None

    def after_layer(self, layer: int) -> LayerAction:
        if layer != self.filter_layer:
            return CONTINUE
        self.selection_layer = layer
        return LayerAction(keep=self.keep, stop=True)


def gemfilter_selection(scores: torch.Tensor, num_keep: int, force_tail: int = 0) -> torch.Tensor:
    """Top-min(k, N) positions, ascending; ``force_tail`` > 0 always keeps the last positions [decision]."""
    length = scores.shape[0]
    if force_tail <= 0 or num_keep >= length:
        return top_k_ascending(scores, num_keep)
    tail = min(force_tail, num_keep)
    head = top_k_ascending(scores[: length - tail], num_keep - tail)
    return torch.cat([head, torch.arange(length - tail, length, device=scores.device)])


class TwoPassASLSession(Session):
    """ASL_2pass pass 1: the ASL rule without KV; stop after the selection layer (methods.md §6)."""

    two_pass = True

    def __init__(self, num_layers, prompt_len, window: int, pool_kernel: int, selector):
        super().__init__(num_layers, prompt_len)
        self.window, self.pool_kernel, self.selector = window, pool_kernel, selector

    def on_attention(self, layer, query, key, value, scaling):
        if key.shape[2] > self.window and self.selector.wants_scores(layer):
            self.selector.observe(layer, LayerScores(query, key, self.window, self.pool_kernel, scaling))
        return None

    def after_layer(self, layer: int) -> LayerAction:
        last_layer = layer == self.num_layers - 1
        if last_layer:
            self.selector.select_fallback(layer)
        if self.selector.selected_layer != layer and not last_layer:
            return CONTINUE
        self.selection_layer = layer
        self.rel_variance = self.selector.rel_variance()
        keep = self.selector.keep
        if keep is None:  # prompt no longer than the window: never scored, every token is kept
            keep = torch.arange(self.prompt_len)
        return LayerAction(keep=keep, stop=True)
