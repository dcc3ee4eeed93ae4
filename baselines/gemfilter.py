"""GemFilter: two passes, last-token q·k at the filter layer, re-run on the selected ids (methods.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asl.methods.base import CONTINUE, LayerAction, Session, check, check_int, relative_depth
from asl.methods.families import TwoPassMethod
from asl.token_scoring import gemfilter_scores, top_k_ascending


def gemfilter_selection(scores: torch.Tensor, num_keep: int, force_tail: int = 0) -> torch.Tensor:
    """Top-min(k, N) positions, ascending; ``force_tail`` > 0 always keeps the last positions [decision]."""
    length = scores.shape[0]
    if force_tail <= 0 or num_keep >= length:
        return top_k_ascending(scores, num_keep)
    tail = min(force_tail, num_keep)
    head = top_k_ascending(scores[: length - tail], num_keep - tail)
    return torch.cat([head, torch.arange(length - tail, length, device=scores.device)])


class GemFilterSession(Session):
    """Pass 1: last-token q·k at the filter layer picks the input ids to re-run; nothing is cached."""

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
            scores = gemfilter_scores(query, key, self.pool_kernel)
            self.keep = gemfilter_selection(scores, self.num_keep, self.force_tail)
        return None

    def after_layer(self, layer: int) -> LayerAction:
        if layer != self.filter_layer:
            return CONTINUE
        self.selection_layer = layer
        return LayerAction(keep=self.keep, stop=True)


@dataclass(frozen=True, kw_only=True)
class GemFilter(TwoPassMethod):
    """Select k input ids at ``filter_layer`` and prefill them again with fresh positions 0..k-1."""

    filter_layer: int | None
    pool_kernel: int
    force_tail: int

    display_name = "GemFilter"
    color = "#009E73"
    marker = "D"
    order = 40
    model_keys = {"filter_layer": relative_depth(0.41)}
    layer_keys = ("filter_layer",)

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check_int(self, "pool_kernel", self.pool_kernel, minimum=1, what="a positive odd integer")
        check(
            self.pool_kernel % 2 == 1,
            f"{self.name}: pool_kernel must be a positive odd integer, got {self.pool_kernel!r}",
        )
        check_int(self, "force_tail", self.force_tail, minimum=0, what=">= 0")

    def planned_layer(self) -> int | None:
        return self.filter_layer

    def pass1_layer(self, num_layers: int, selection_layer: int | None) -> int:
        return self.filter_layer if selection_layer is None else selection_layer

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        return GemFilterSession(
            num_layers, prompt_len, self.filter_layer, self.kv_budget, self.pool_kernel, self.force_tail
        )
