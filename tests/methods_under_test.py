"""The methods under test: one entry per method configuration (``configs/method/*.yaml``).

The generic tests (budget >= N equals FullKV, request isolation, the KV arithmetic against the engine,
the runner end to end, the efficiency bench) run over every entry. A method that compresses each layer's
prompt KV after its attention also gives ``naive_keep``: the entries each layer and KV head keeps,
computed naively from HF eager attention probabilities; the engine's kept keys and its decoding (against
a masked no-cache reference) must match it. Adding a method is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from tests.reference import naive_keep, naive_kv_scores


@dataclass(frozen=True)
class LayerView:
    """What a naive reference sees of one layer: eager attention of the full prompt, and where it is."""

    probs: torch.Tensor  # [H_q, N, N] softmax attention of layer ``layer`` over the whole prompt
    layer: int
    num_layers: int
    num_kv_heads: int
    method: Any  # the method object under test (its hyper-parameters)


@dataclass(frozen=True)
class MethodUnderTest:
    """Small-budget parameters for the tiny models, and the naive per-layer KV reference if it has one."""

    small: dict[str, Any] = field(default_factory=dict)
    naive_keep: Callable[[LayerView], torch.Tensor] | None = None  # [H_kv, kept] ascending prompt indices
    #: extra parameters under which a budget of N keeps every entry (then the method must equal FullKV)
    unpruned: dict[str, Any] = field(default_factory=dict)


def snapkv_keep(view: LayerView) -> torch.Tensor:
    """SnapKV (methods.md §2): per KV head, top-(C - w) window-scored prefix entries plus the window."""
    m = view.method
    scores = naive_kv_scores(view.probs, m.window, m.pool_kernel, view.num_kv_heads)
    return torch.stack([naive_keep(scores[g], m.kv_budget, m.window) for g in range(view.num_kv_heads)])


def pyramidkv_keep(view: LayerView) -> torch.Tensor:
    """PyramidKV: SnapKV's selection with a linear per-layer budget, 2B - B//beta at layer 0 down to
    B//beta (B = C - w) at the last layer, rounded; the total is layers x C, as SnapKV's."""
    m, layers = view.method, view.num_layers
    prefix = m.kv_budget - m.window
    low, high = prefix // m.beta, 2 * prefix - prefix // m.beta
    budgets = [round(high - layer * (high - low) / (layers - 1)) + m.window for layer in range(layers)]
    assert sum(budgets) == layers * m.kv_budget and budgets == sorted(budgets, reverse=True)
    n = view.probs.shape[-1]
    while any(b > n for b in budgets):  # a layer keeps at most N; the rest goes to the uncapped layers
        excess, budgets = sum(b - n for b in budgets if b > n), [min(b, n) for b in budgets]
        uncapped = [i for i, b in enumerate(budgets) if b < n]
        if not uncapped:  # N <= C: every layer keeps the whole prompt
            break
        for k, i in enumerate(uncapped):
            budgets[i] += excess // len(uncapped) + (k < excess % len(uncapped))
    assert sum(budgets) == layers * min(m.kv_budget, n)
    scores = naive_kv_scores(view.probs, m.window, m.pool_kernel, view.num_kv_heads)
    budget = budgets[view.layer]
    return torch.stack([naive_keep(scores[g], budget, m.window) for g in range(view.num_kv_heads)])


def streamingllm_keep(view: LayerView) -> torch.Tensor:
    """StreamingLLM: the first num_sinks positions and the most recent C - num_sinks, every KV head."""
    m, n = view.method, view.probs.shape[-1]
    keep = list(range(m.num_sinks)) + list(range(n - (m.kv_budget - m.num_sinks), n))
    return torch.tensor(keep).expand(view.num_kv_heads, len(keep))


def kvpress_snapkv_keep(view: LayerView) -> torch.Tensor:
    """SnapKVPress with window_size w and kernel_size k: SnapKV's entries (its mean over the window and the
    group ranks as SnapKV's sum; the window is padded with the maximum score, so it is always kept)."""
    m = view.method
    window, kernel = m.press_kwargs["window_size"], m.press_kwargs["kernel_size"]
    scores = naive_kv_scores(view.probs, window, kernel, view.num_kv_heads)
    return torch.stack([naive_keep(scores[g], m.kv_budget, window) for g in range(view.num_kv_heads)])


SMALL = dict(kv_budget=48, window=8)
RULE = dict(SMALL, l_obs=3)

METHODS: dict[str, MethodUnderTest] = {
    "fullkv": MethodUnderTest(),
    "snapkv": MethodUnderTest(SMALL, snapkv_keep),
    "pyramidkv": MethodUnderTest(SMALL, pyramidkv_keep, unpruned=dict(beta=1)),
    "streamingllm": MethodUnderTest(dict(kv_budget=48), streamingllm_keep),
    # evicts while decoding: its decoding is checked against a rolling-mask reference (test_decode_hook.py)
    "streamingllm_rolling": MethodUnderTest(dict(kv_budget=48)),
    "fastkv": MethodUnderTest(SMALL),
    "fastkv_fullbefore": MethodUnderTest(SMALL),
    "asl": MethodUnderTest(RULE),
    "asl_fullbefore": MethodUnderTest(RULE),
    "gemfilter": MethodUnderTest(dict(kv_budget=48)),
    "asl_2pass": MethodUnderTest(RULE),
    # kvpress presses (docs/kvpress.md); SnapKVPress at the harness's window keeps SnapKV's entries
    "kvpress": MethodUnderTest(dict(kv_budget=48, window_size=8, kernel_size=7), kvpress_snapkv_keep),
    "kvpress_knorm": MethodUnderTest(dict(kv_budget=48)),
    "kvpress_expected_attention": MethodUnderTest(dict(kv_budget=48)),
    "kvpress_tova": MethodUnderTest(dict(kv_budget=48)),
    "kvpress_observed_attention": MethodUnderTest(dict(kv_budget=48)),
}
