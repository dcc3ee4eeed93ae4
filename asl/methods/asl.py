"""ASL (one pass) and ASL_2pass: the adaptive selection layer by relative rank variance (methods.md §5-§6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from asl.methods.base import CONTINUE, LayerAction, LayerScores, PruningMethod, Session, check, check_int
from asl.methods.families import PropagatingMethod, TwoPassMethod, WindowedMethod
from asl.methods.selectors import AdaptiveLayerSelector
from asl.methods.sessions import OnePassSession


def third_of_depth(num_layers: int) -> int:
    """L_min = floor(layers / 3) (paper §5.1)."""
    return num_layers // 3


@dataclass(frozen=True, kw_only=True)
class AdaptiveRule(PruningMethod):
    """The parameters of ASL's stopping rule, shared by ASL and ASL_2pass."""

    tau: float
    l_min: int | None
    l_obs: int
    force_layer: int | None

    model_keys = {"l_min": third_of_depth}
    layer_keys = ("l_min", "force_layer")

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        tau = self.tau
        check(
            isinstance(tau, (int, float)) and not isinstance(tau, bool) and 0.0 < tau <= 1.0,
            f"{self.name}: tau must be in (0, 1], got {tau!r}",
        )
        check_int(self, "l_obs", self.l_obs, minimum=1, what="a positive integer")

    def planned_layer(self) -> int | None:
        """Only a forced layer is known in advance; the rule picks its layer per prompt."""
        return self.force_layer

    def selector(self, num_keep: int, window: int) -> AdaptiveLayerSelector:
        """A fresh per-request rule that keeps ``num_keep`` tokens (window included)."""
        return AdaptiveLayerSelector(self.tau, self.l_min, self.l_obs, num_keep, window, self.force_layer)


@dataclass(frozen=True, kw_only=True)
class ASL(PropagatingMethod, AdaptiveRule):
    """Select the propagation layer per request, then continue exactly as FastKV at that layer."""

    display_name = "ASL"
    color = "#D55E00"
    full_before_color = "#E69F00"
    marker = "o"
    order = 30

    def overhead_reference(self, layer: int | None) -> tuple[str, dict[str, Any]]:
        """FastKV at the chosen layer with this budget, k, window and kv_before; if the rule never fired,
        every layer ran on all tokens as SnapKV does (FullKV under Full-before)."""
        shared = {"kv_budget": self.kv_budget, "window": self.window, "pool_kernel": self.pool_kernel}
        if layer is not None:
            return "fastkv", {
                **shared,
                "tsp_layer": layer,
                "select_k": self.select_k,
                "kv_before": self.kv_before,
            }
        return ("fullkv", {}) if self.full_before else ("snapkv", shared)

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        selector = self.selector(self.num_keep, self.window)
        return OnePassSession(
            num_layers, prompt_len, self.window, self.pool_kernel, self.compressor(), selector
        )


class TwoPassASLSession(Session):
    """ASL_2pass pass 1: the ASL rule without KV; stop after the selection layer (methods.md §6)."""

    two_pass = True

    def __init__(
        self, num_layers, prompt_len, window: int, pool_kernel: int, selector: AdaptiveLayerSelector
    ):
        super().__init__(num_layers, prompt_len)
        self.window, self.pool_kernel, self.selector = window, pool_kernel, selector
        self.fallback = False

    def on_attention(self, layer, query, key, value, scaling):
        if key.shape[2] > self.window and self.selector.wants_scores(layer):
            self.selector.observe(layer, LayerScores(query, key, self.window, self.pool_kernel, scaling))
        return None

    @property
    def selection_fired(self) -> bool:
        """False when the rule never fired and the tokens came from the last layer's ranks (fallback)."""
        return self.selection_layer is not None and not self.fallback

    def after_layer(self, layer: int) -> LayerAction:
        last_layer = layer == self.num_layers - 1
        if last_layer and self.selector.selected_layer is None:
            self.fallback = True
            self.selector.select_fallback(layer)
        if self.selector.selected_layer != layer and not last_layer:
            return CONTINUE
        self.selection_layer = layer
        self.rel_variance = self.selector.rel_variance()
        keep = self.selector.keep
        if keep is None:  # prompt no longer than the window: never scored, every token is kept
            keep = torch.arange(self.prompt_len)
        return LayerAction(keep=keep, stop=True)


@dataclass(frozen=True, kw_only=True)
class ASL2Pass(TwoPassMethod, WindowedMethod, AdaptiveRule):
    """ASL's rule picks layer and tokens in a KV-less first pass; the tokens are re-run from scratch."""

    display_name = "ASL_2pass"
    color = "#CC79A7"
    marker = "P"
    order = 50

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        selector = self.selector(self.kv_budget, self.window)
        return TwoPassASLSession(num_layers, prompt_len, self.window, self.pool_kernel, selector)
