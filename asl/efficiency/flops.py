"""Ideal prefill cost model (FLOPs) for layer-wise token pruning (issue: efficiency benchmark, item 2).

Counts matrix-multiply FLOPs (2 per multiply-add) of a decoder-only transformer with GQA attention and a
gated (SwiGLU) MLP. Norms, RoPE, softmax, residuals and the methods' scoring passes are not counted: the
"ideal" cost of a method is the transformer work it cannot avoid, so measured / ideal is its overhead.

Per layer on n tokens (causal prefill, queries and keys = the same n tokens):
  linear   = n * 2 * (h*Hq*d + 2*h*Hkv*d + Hq*d*h + 3*h*I)
  attention= 2 * [QK^T and AV] * d * Hq * n(n+1)/2 pairs = 2*d*Hq*n*(n+1)
The LM head runs on the last position only: 2*h*V.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FULL_METHODS = {"fullkv", "snapkv"}
ONE_PASS_METHODS = {"fastkv", "fastkv_fullbefore", "asl", "asl_fullbefore", "fastkv_forced"}
TWO_PASS_METHODS = {"gemfilter", "asl_2pass"}


@dataclass(frozen=True)
class ArchSpec:
    """The shape parameters the cost model needs."""

    num_layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int

    @classmethod
    def from_config(cls, config: Any) -> ArchSpec:
        """Build from an HF config object or a plain dict (``model_type``-style keys)."""
        get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
        heads = int(get("num_attention_heads"))
        hidden = int(get("hidden_size"))
        head_dim = get("head_dim", None) or hidden // heads
        return cls(
            num_layers=int(get("num_hidden_layers")),
            hidden=hidden,
            heads=heads,
            kv_heads=int(get("num_key_value_heads", None) or heads),
            head_dim=int(head_dim),
            intermediate=int(get("intermediate_size")),
            vocab=int(get("vocab_size")),
        )

    def to_dict(self) -> dict[str, int]:
        """Plain dict (for run metadata)."""
        return asdict(self)


def linear_params_per_layer(a: ArchSpec) -> int:
    """Weights of one decoder layer's projections (q, k, v, o, gate, up, down), biases excluded."""
    q_o = 2 * a.hidden * a.heads * a.head_dim
    k_v = 2 * a.hidden * a.kv_heads * a.head_dim
    mlp = 3 * a.hidden * a.intermediate
    return q_o + k_v + mlp


def attention_flops(a: ArchSpec, n: int) -> int:
    """QK^T and AV of causal self-attention over n tokens: n(n+1)/2 pairs, 2*d FLOPs each, per query head."""
    return 2 * a.head_dim * a.heads * n * (n + 1)


def layer_flops(a: ArchSpec, n: int) -> int:
    """One decoder layer's prefill FLOPs on n tokens (projections, MLP, causal attention)."""
    if n <= 0:
        return 0
    return 2 * n * linear_params_per_layer(a) + attention_flops(a, n)


def lm_head_flops(a: ArchSpec) -> int:
    """LM head on the last position only."""
    return 2 * a.hidden * a.vocab


def one_shot_flops(a: ArchSpec, n: int, k: int, layer: int | None) -> int:
    """Layers 0..layer on n tokens, layers after on k tokens, plus the LM head (no pruning if n <= k)."""
    if layer is None or n <= k or layer >= a.num_layers - 1:
        return a.num_layers * layer_flops(a, n) + lm_head_flops(a)
    reduced = a.num_layers - layer - 1
    return (layer + 1) * layer_flops(a, n) + reduced * layer_flops(a, k) + lm_head_flops(a)


def two_pass_flops(a: ArchSpec, n: int, k: int, layer: int) -> int:
    """Pass 1: layers 0..layer on n tokens (no LM head); pass 2: the whole model on min(k, n) tokens."""
    pass1 = (layer + 1) * layer_flops(a, n)
    return pass1 + a.num_layers * layer_flops(a, min(k, n)) + lm_head_flops(a)


def method_prefill_flops(
    a: ArchSpec,
    method: str,
    n: int,
    k: int | None = None,
    selection_layer: int | None = None,
    filter_layer: int | None = None,
) -> int:
    """Ideal prefill FLOPs of ``method`` on an n-token prompt with k selected / propagated tokens.

    ``selection_layer`` is the one-shot layer (FastKV's TSP layer, ASL's chosen layer); ``filter_layer`` is
    GemFilter's. ASL_2pass without a selection layer falls back to the last layer (methods.md §6).
    """
    if method in FULL_METHODS:
        return one_shot_flops(a, n, n, None)
    if k is None:
        raise ValueError(f"method {method!r} needs k (the number of kept tokens)")
    if method in ONE_PASS_METHODS:
        return one_shot_flops(a, n, k, selection_layer)
    if method == "gemfilter":
        if filter_layer is None:
            raise ValueError("gemfilter needs filter_layer")
        return two_pass_flops(a, n, k, filter_layer)
    if method == "asl_2pass":
        layer = a.num_layers - 1 if selection_layer is None else selection_layer
        return two_pass_flops(a, n, k, layer)
    raise ValueError(f"unknown method {method!r} for the cost model")


def ideal_ttft_ratio(a: ArchSpec, method: str, n: int, **kwargs: Any) -> float:
    """Ideal TTFT ratio to FullKV: the method's prefill FLOPs over FullKV's at the same length."""
    return method_prefill_flops(a, method, n, **kwargs) / method_prefill_flops(a, "fullkv", n)


def expected_layer_calls(
    a: ArchSpec, method: str, selection_layer: int | None, filter_layer: int | None
) -> int:
    """Decoder-layer calls of a prefill: L for one-pass methods; pass 1 (layer+1) + L for two-pass ones."""
    if method == "gemfilter" and filter_layer is not None:
        return filter_layer + 1 + a.num_layers
    if method == "asl_2pass":
        layer = a.num_layers - 1 if selection_layer is None else selection_layer
        return layer + 1 + a.num_layers
    return a.num_layers
