"""One decoder layer's prefill in token chunks: memory bounded by the chunk, not by the prompt length.

HF's layer forward computes q, k, v, RoPE's temporaries and the MLP's intermediates for every token at
once, so its working set grows with N (7 GB at 128K on Llama-3.1-8B). For the pre-norm layout shared by
Llama, Qwen2 and Mistral (``h += o_proj(attn(norm_in(h))); h += mlp(norm_post(h))``) the engine runs the
layer's own submodules (norms, projections, the model's ``apply_rotary_pos_emb``, MLP) on chunks of
``chunk`` tokens instead; nothing of the modelling code is copied or patched.

Attention block, chunk by chunk in token order: the chunk's normed input gives its q, k and v; k and v
are written into the layer's K/V (a per-request scratch buffer holding every token of one layer); the
chunk's queries attend to the keys 0..e-1 with a causal mask aligned bottom-right (query i of the chunk
[s, e) sees keys 0..s+i), and the chunk's output is added to the residual stream in place. The MLP block
runs the same way. What stays alive is the residual stream, one layer's K/V and one chunk's temporaries.

With a chunk >= N the arithmetic is HF's layer forward's, operation for operation (fp32: bit-identical,
``tests/test_engine_chunked.py``). The session sees the layer's full K/V and the queries of the last
chunk (at least the last ``min(N, chunk)``), which is what window scoring reads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from asl.cost_model import effective_chunk

#: tokens per prefill chunk (attention queries and MLP), up to 128K tokens; longer prompts get n / 32
#: (``asl.cost_model.effective_chunk``). Llama-3.1-8B bf16: the MLP's three chunk x 14336
#: intermediates are 0.35 GB, the attention chunk's q/k/v/RoPE temporaries ~0.2 GB.
DEFAULT_PREFILL_CHUNK = 4096

#: decoder-layer classes whose forward is exactly the pre-norm layout above (checked structurally too)
PRE_NORM_LAYERS = frozenset({"LlamaDecoderLayer", "Qwen2DecoderLayer", "MistralDecoderLayer"})


@dataclass(frozen=True)
class LayerParts:
    """The submodules of a pre-norm decoder layer the chunked prefill calls, and its attention shape."""

    norm_in: nn.Module
    attention: nn.Module
    norm_post: nn.Module
    mlp: nn.Module
    apply_rope: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    head_dim: int
    scaling: float


def layer_parts(layer: nn.Module) -> LayerParts | None:
    """The parts of ``layer`` if it has the pre-norm Llama/Qwen2/Mistral layout without a sliding window;
    None otherwise (the engine then runs HF's layer forward on all tokens at once)."""
    attention = getattr(layer, "self_attn", None)
    if type(layer).__name__ not in PRE_NORM_LAYERS or attention is None:
        return None
    if getattr(attention, "sliding_window", None) is not None:
        return None
    needed = ("q_proj", "k_proj", "v_proj", "o_proj", "head_dim", "scaling")
    rope = getattr(sys.modules[type(attention).__module__], "apply_rotary_pos_emb", None)
    if rope is None or not all(hasattr(attention, name) for name in needed):
        return None
    return LayerParts(
        layer.input_layernorm,
        attention,
        layer.post_attention_layernorm,
        layer.mlp,
        rope,
        int(attention.head_dim),
        float(attention.scaling),
    )


def chunk_bounds(length: int, chunk: int | None) -> list[tuple[int, int]]:
    """[start, end) chunks covering 0..length in order, of ``effective_chunk(length, chunk)`` tokens (at
    most 32 per layer); the *last* chunk is a full one (the first may be short), so the last chunk's
    queries cover the scoring window. ``chunk`` None: one chunk."""
    chunk = effective_chunk(length, chunk)
    if not chunk or length <= chunk:
        return [(0, length)]
    first = length % chunk or chunk
    return [(0, first)] + [(start, start + chunk) for start in range(first, length, chunk)]


class LayerScratch:
    """Per-request K/V buffers for one layer at a time, sized for the longest sequence of the request."""

    def __init__(self):
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def views(self, like: torch.Tensor, heads: int, length: int, head_dim: int) -> tuple[torch.Tensor, ...]:
        """[1, heads, length, head_dim] key and value views (allocated on first use, grown if needed)."""
        if self.keys is None or self.keys.shape[2] < length or self.keys.shape[1] != heads:
            self.keys = self.values = None  # free before allocating the larger pair
            self.keys = like.new_empty(1, heads, length, head_dim)
            self.values = like.new_empty(1, heads, length, head_dim)
        return self.keys.narrow(2, 0, length), self.values.narrow(2, 0, length)

    def release(self) -> None:
        self.keys = self.values = None


def _heads(states: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[1, T, H*d] -> [1, H, T, d] (a view, as HF's attention forward makes it)."""
    return states.view(*states.shape[:-1], -1, head_dim).transpose(1, 2)


def attention_block(
    parts: LayerParts,
    hidden: torch.Tensor,
    position_ids: torch.Tensor,
    rotary: nn.Module,
    kernel,
    chunk: int | None,
    scratch: LayerScratch,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Add the layer's attention output to ``hidden`` in place, chunk by chunk.

    Returns (the last chunk's post-RoPE queries [1, Hq, c, d], the layer's keys and values
    [1, Hkv, T, d]); the keys and values are views of ``scratch``, valid until the next layer.
    """
    attention, length = parts.attention, hidden.shape[1]
    keys = values = query = None
    for start, end in chunk_bounds(length, chunk):
        normed = parts.norm_in(hidden[:, start:end])
        cos, sin = rotary(normed, position_ids[:, start:end])
        query = _heads(attention.q_proj(normed), parts.head_dim)
        key = _heads(attention.k_proj(normed), parts.head_dim)
        value = _heads(attention.v_proj(normed), parts.head_dim)
        del normed
        query, key = parts.apply_rope(query, key, cos, sin)
        if keys is None:
            keys, values = scratch.views(key, key.shape[1], length, parts.head_dim)
        keys[:, :, start:end] = key
        values[:, :, start:end] = value
        del key, value, cos, sin
        out = kernel(attention, query, keys[:, :, :end], values[:, :, :end], True, parts.scaling)
        hidden[:, start:end] += attention.o_proj(out.reshape(1, end - start, -1))
        del out
    return query, keys, values


def mlp_block(parts: LayerParts, hidden: torch.Tensor, chunk: int | None) -> None:
    """Add the layer's MLP output to ``hidden`` in place, chunk by chunk."""
    for start, end in chunk_bounds(hidden.shape[1], chunk):
        hidden[:, start:end] += parts.mlp(parts.norm_post(hidden[:, start:end]))
