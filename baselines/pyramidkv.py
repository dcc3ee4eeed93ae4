"""PyramidKV: SnapKV with per-layer budgets that shrink linearly with depth (Cai et al. 2024).

Shallow layers attend broadly and keep more entries, deep layers attend to few tokens and keep fewer. The
total equals SnapKV's at the same average budget C: the prefix budget B = C - w is spread linearly from
2B - B//beta at layer 0 down to B//beta at the last layer (KVCache-Factory's schedule, beta = 20), each
layer keeping its top entries by the SnapKV window score plus the window, per KV head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asl.methods.base import Session, check_int
from asl.methods.families import WindowedMethod
from asl.methods.sessions import OnePassSession, SnapKVCompressor


def pyramid_budgets(
    num_layers: int, budget: int, window: int, beta: int, length: int | None = None
) -> list[int]:
    """Per-layer budgets (window included), linear in depth, summing to exactly num_layers * budget.

    Rounding uses largest remainders, so the total is exact and the schedule stays non-increasing. With
    ``length`` (the prompt's N) no layer exceeds N and the total is num_layers * min(budget, N):
    :func:`rebalance_capped` moves what the capped layers cannot keep to the others.
    """
    if length is not None and length <= budget:
        return [length] * num_layers
    budgets = _linear_budgets(num_layers, budget, window, beta)
    return budgets if length is None else rebalance_capped(budgets, length)


def rebalance_capped(budgets: list[int], cap: int) -> list[int]:
    """Cap every budget at ``cap`` and spread the excess evenly over the uncapped layers (the shallowest
    first for the remainder), repeating until none exceeds it; the total is unchanged when it fits."""
    out = list(budgets)
    while True:
        excess = sum(max(0, b - cap) for b in out)
        open_layers = [i for i, b in enumerate(out) if b < cap]
        if excess == 0 or not open_layers:
            return [min(b, cap) for b in out]
        out = [min(b, cap) for b in out]
        share, left = divmod(excess, len(open_layers))
        for rank, i in enumerate(open_layers):
            out[i] += share + (1 if rank < left else 0)


def _linear_budgets(num_layers: int, budget: int, window: int, beta: int) -> list[int]:
    prefix = budget - window
    if num_layers == 1:
        return [budget]
    low = prefix // beta
    high = 2 * prefix - low
    exact = [high - layer * (high - low) / (num_layers - 1) for layer in range(num_layers)]
    floors = [math.floor(x) for x in exact]
    left = num_layers * prefix - sum(floors)
    by_remainder = sorted(range(num_layers), key=lambda i: (floors[i] - exact[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return [b + window for b in floors]


class PyramidCompressor(SnapKVCompressor):
    """SnapKV compression with a per-layer budget."""

    def __init__(self, budgets: list[int], window: int):
        super().__init__(max(budgets), window)
        self.budgets = budgets

    def budget_of(self, layer: int) -> int | None:
        return self.budgets[layer]


@dataclass(frozen=True, kw_only=True)
class PyramidKV(WindowedMethod):
    """Per-KV-head SnapKV selection with budgets decreasing linearly with depth; average budget C."""

    beta: int

    display_name = "PyramidKV"
    color = "#332288"
    marker = "<"
    order = 11

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check_int(self, "beta", self.beta, minimum=1, what="a positive integer")

    def budgets(self, num_layers: int, length: int | None = None) -> list[int]:
        """Entries each layer keeps (window included) on a ``length``-token prompt (None: unbounded)."""
        return pyramid_budgets(num_layers, self.kv_budget, self.window, self.beta, length)

    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        return self.budgets(num_layers, n)

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        compressor = PyramidCompressor(self.budgets(num_layers, prompt_len), self.window)
        return OnePassSession(num_layers, prompt_len, self.window, self.pool_kernel, compressor)
