"""Ideal prefill cost (FLOPs) and KV-cache bytes of a decoder-only transformer (methods.md §10).

Counts matrix-multiply FLOPs (2 per multiply-add) of a decoder with GQA attention and a gated (SwiGLU) MLP.
Norms, RoPE, softmax, residuals and the methods' scoring passes are not counted: the "ideal" cost of a
method is the transformer work it cannot avoid, so measured / ideal is its overhead. Each method states
its own cost with these primitives (``PruningMethod.prefill_flops``); nothing here knows method names.

Per layer on n tokens (causal prefill, queries and keys = the same n tokens):
  linear    = n * 2 * (h*Hq*d + 2*h*Hkv*d + Hq*d*h + 3*h*I)
  attention = 2 * [QK^T and AV] * d * Hq * n(n+1)/2 pairs = 2*d*Hq*n*(n+1)
The LM head runs on the last position only: 2*h*V.

Decoding and memory: the bytes a decode step must read (its floor over the memory bandwidth), the weight
count, and the prefill working set of the engine's layer loop (the peak-memory model of ``predict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


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


def full_prefill_flops(a: ArchSpec, n: int) -> int:
    """Every layer on all n tokens plus the LM head (FullKV, and every method that prunes only the cache)."""
    return a.num_layers * layer_flops(a, n) + lm_head_flops(a)


def propagated_prefill_flops(a: ArchSpec, n: int, k: int, layer: int | None) -> int:
    """Layers 0..layer on n tokens, the deeper ones on k tokens, plus the LM head (no pruning if n <= k)."""
    if layer is None or n <= k or layer >= a.num_layers - 1:
        return full_prefill_flops(a, n)
    reduced = a.num_layers - layer - 1
    return (layer + 1) * layer_flops(a, n) + reduced * layer_flops(a, k) + lm_head_flops(a)


def two_pass_prefill_flops(a: ArchSpec, n: int, k: int, layer: int) -> int:
    """Pass 1: layers 0..layer on n tokens (no LM head); pass 2: the whole model on min(k, n) tokens."""
    return (layer + 1) * layer_flops(a, n) + full_prefill_flops(a, min(k, n))


def shared_prefill_flops(a: ArchSpec, n: int, members: Sequence[tuple[int, int]]) -> int:
    """One prefill shared by several methods (``asl.engine.generate_many``), each given as (its own
    prefill FLOPs, the full-token layers it runs before leaving the shared trunk): the trunk's layers run
    once, as deep as its deepest member; everything after a member leaves (its branch, its second pass,
    its LM head) is its own."""
    if not members:
        return 0
    per_layer = layer_flops(a, n)
    trunk = max(layers for _, layers in members)
    return trunk * per_layer + sum(flops - layers * per_layer for flops, layers in members)


def kv_bytes(a: ArchSpec, kv_lengths: Sequence[int], dtype_bytes: int) -> int:
    """KV-cache bytes of a cache holding ``kv_lengths[l]`` entries at layer l (K and V, KV heads only)."""
    if len(kv_lengths) != a.num_layers:
        raise ValueError(f"kv_lengths has {len(kv_lengths)} layers, the model {a.num_layers}")
    return a.kv_heads * a.head_dim * 2 * dtype_bytes * sum(int(n) for n in kv_lengths)


# -- decoding and memory (issue 11: floors and the prefill working set) -------------------------------


def weight_params(a: ArchSpec, tied: bool = False) -> int:
    """Parameters: embedding table, per layer the projections and two norms, final norm, LM head (biases
    excluded; Qwen2's q/k/v biases are 0.002% of its weights)."""
    head = 0 if tied else a.vocab * a.hidden
    return a.vocab * a.hidden + a.num_layers * (linear_params_per_layer(a) + 2 * a.hidden) + a.hidden + head


def kv_entry_bytes(a: ArchSpec, dtype_bytes: int) -> int:
    """Bytes of one cached token at one layer (K and V, KV heads only)."""
    return 2 * a.kv_heads * a.head_dim * dtype_bytes


def decode_read_bytes(a: ArchSpec, weight_bytes_read: int, kv_entries: int, dtype_bytes: int) -> int:
    """Bytes one decode step must read: the weights it uses plus ``kv_entries`` cached entries (all layers).

    ``weight_bytes_read`` is every weight but the embedding table, of which one row is read
    (:func:`decode_weight_bytes`); the floor of a step is this over the memory bandwidth.
    """
    return weight_bytes_read + kv_entries * kv_entry_bytes(a, dtype_bytes)


def decode_weight_bytes(a: ArchSpec, dtype_bytes: int, tied: bool = False) -> int:
    """Weight bytes a decode step reads: all weights except the embedding table (one row of it)."""
    table = 0 if tied else a.vocab * a.hidden
    return (weight_params(a, tied) - table + a.hidden) * dtype_bytes


#: the chunked prefill runs at most this many chunks per layer: a long prompt gets chunks of n / 32 tokens
MAX_PREFILL_CHUNKS = 32


def effective_chunk(n: int, chunk: int | None) -> int | None:
    """Tokens per prefill chunk on an n-token sequence: ``chunk``, raised to ceil(n / MAX_PREFILL_CHUNKS)
    so that a layer runs at most 32 chunks (bounded kernel launches; the chunk's temporaries stay below
    1/32 of the full-length terms); None (unchunked) stays None."""
    if not chunk:
        return None
    return max(chunk, -(-n // MAX_PREFILL_CHUNKS))


def prefill_working_bytes(a: ArchSpec, n: int, dtype_bytes: int, chunk: int | None, window: int = 0) -> int:
    """Peak bytes beyond weights + KV of the engine's chunked prefill on n tokens (``asl.engine.chunked_layer``).

    Live for the whole layer: the residual stream (n h) and one layer's K/V scratch (n 2 Hkv d). On top,
    the largest of these moments of one chunk (c = min(n, effective_chunk(n, chunk)) tokens; above 128K a
    chunk is n / 32 tokens while the MLP still runs in sub-chunks of ``chunk`` tokens):
    RMSNorm: its fp32 upcast and statistics (8 h bytes per token) beside its output (h);
    attention: the normed input and the attention output before and after o_proj (3 h), q with RoPE's
    temporaries (3 Hq d), k/v with theirs (4 Hkv d), cos/sin (2 d), the fused kernel's fp32 log-sum-exp
    (4 Hq bytes, live beside its output);
    MLP: the chunk's normed input and output (2 h), and one sub-chunk's gate, up, their product and its
    output (3 I + h);
    window scoring (``window`` > 0): one KV head's fp32 logits and softmax (2 G w n) and the fp32
    histogram of every query head (Hq n).
    The norm's upcast is gone before the block's temporaries exist, so the moments do not add (checked
    on fake tensors by ``make scale-check`` from 128K to 1M, within 5%).
    """
    b, h = dtype_bytes, a.hidden
    sub = chunk
    chunk = effective_chunk(n, chunk)
    c = n if not chunk else min(n, chunk)
    s = c if not sub else min(c, sub)
    whole_layer = n * b * (h + 2 * a.kv_heads * a.head_dim)
    norm = c * h * (8 + b)
    attention = c * b * (3 * h + 3 * a.heads * a.head_dim + 4 * a.kv_heads * a.head_dim + 2 * a.head_dim)
    attention += c * 4 * a.heads  # the fused kernel's fp32 LSE
    mlp = c * b * 2 * h + s * b * (3 * a.intermediate + h)
    group = a.heads // a.kv_heads
    scoring = 4 * n * (2 * group * window + a.heads) if window else 0
    return whole_layer + max(norm, attention, mlp, scoring)


def decode_scratch_bytes(a: ArchSpec, longest: int, dtype_bytes: int, block: int) -> int:
    """Bytes of the lean decode step's per-request scratch (``asl.engine.lean_step``) over cache buffers of
    at most ``longest`` entries: one set shared by every layer, as the layers run one after another.

    fp32 scores and probabilities and 16-bit (blocked) probabilities (Hq L (4 + 4 + b)), the split-K
    partial sums in fp32 (Hq d 4 per block of ``block`` entries) and the per-layer mask tables (fp32 bias
    and a boolean, layers x L).
    """
    blocks = longest // block if longest % block == 0 and longest > block else 0
    scores = a.heads * longest * (4 + 4 + dtype_bytes)
    partial = a.heads * a.head_dim * 4 * blocks
    masks = a.num_layers * longest * (4 + 1)
    return scores + partial + masks
