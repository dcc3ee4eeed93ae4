"""Layer selectors: where to pick the propagated token set (fixed layer, or ASL's rank-variance rule)."""

from __future__ import annotations

from collections import deque

import torch

from asl.methods.base import LayerScores
from asl.token_scoring import descending_ranks, relative_rank_variance_numerator, select_by_ranks


class FixedLayerSelector:
    """FastKV's token-selective propagation at a fixed layer (methods.md §4)."""

    def __init__(self, layer: int, num_keep: int, window: int):
        self.layer, self.num_keep, self.window = layer, num_keep, window
        self.selected_layer: int | None = None
        self.keep: torch.Tensor | None = None

    def wants_scores(self, layer: int) -> bool:
        return layer == self.layer and self.selected_layer is None

    def observe(self, layer: int, scores: LayerScores) -> None:
        self.keep = select_by_ranks(descending_ranks(scores.token_scores), self.num_keep, self.window)
        self.selected_layer = layer

    def rel_variance(self) -> dict[int, float]:
        return {}


class AdaptiveLayerSelector:
    """ASL's stopping rule (methods.md §5.1-§5.2), one instance per request.

    From layer ``max(0, l_min - l_obs + 1)`` the descending ranks of each layer's token scores are kept for
    the last ``l_obs`` layers (clipped at layer 0 [decision]). At every layer ``l >= l_min`` the mean
    per-token rank variance over the union of the per-layer top-m sets is divided by its value at
    ``l_min``; the first layer where it falls below ``tau`` is selected, keeping that layer's top-m
    tokens plus the window. ``force_layer`` selects at a given layer instead of by the threshold
    (ablations, efficiency runs on random weights); the monitoring still runs up to that layer, so a
    forced run costs what a real selection at that layer costs.
    """

    def __init__(
        self, tau: float, l_min: int, l_obs: int, num_keep: int, window: int, force_layer: int | None = None
    ):
        self.tau, self.l_min, self.l_obs = tau, l_min, l_obs
        self.num_keep, self.window, self.force_layer = num_keep, window, force_layer
        self.first_observed = max(0, l_min - l_obs + 1)
        if force_layer is not None:
            self.first_observed = min(self.first_observed, force_layer)
        self.history: deque[torch.Tensor] = deque(maxlen=l_obs)
        self.reference_variance: float | None = None
        self.trace: dict[int, float] = {}
        self.selected_layer: int | None = None
        self.keep: torch.Tensor | None = None
        self.last_ranks: torch.Tensor | None = None

    def wants_scores(self, layer: int) -> bool:
        return self.selected_layer is None and layer >= self.first_observed

    def observe(self, layer: int, scores: LayerScores) -> None:
        ranks = descending_ranks(scores.token_scores)
        self.last_ranks = ranks
        self.history.append(ranks)
        fired = False
        if layer >= self.l_min:
            m = min(self.num_keep - self.window, ranks.shape[0])
            variance = relative_rank_variance_numerator(torch.stack(tuple(self.history)), m)
            if self.reference_variance is None:
                self.reference_variance = variance
            relative = relative_variance(variance, self.reference_variance)
            self.trace[layer] = relative
            fired = relative < self.tau
        if (self.force_layer is None and fired) or layer == self.force_layer:
            self._select(layer, ranks)

    def select_fallback(self, layer: int) -> None:
        """ASL_2pass: the rule never fired; select from the last observed layer's ranks (methods.md §6)."""
        if self.selected_layer is None and self.last_ranks is not None:
            self._select(layer, self.last_ranks)

    def rel_variance(self) -> dict[int, float]:
        return dict(self.trace)

    def _select(self, layer: int, ranks: torch.Tensor) -> None:
        self.selected_layer = layer
        self.keep = select_by_ranks(ranks, self.num_keep, self.window)
        self.history.clear()  # the rank history is freed once selection has happened


def relative_variance(variance: float, reference: float) -> float:
    """rho = v_l / v_Lmin; 1.0 when both are zero (nothing moved), inf when only the reference is zero."""
    if reference == 0.0:
        return 1.0 if variance == 0.0 else float("inf")
    return variance / reference
