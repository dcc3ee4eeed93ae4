"""The lean static decode step: Llama / Qwen2 / Mistral layers computed directly, about 20 aten ops each.

HF's decoder layer issues about 55 aten ops per layer and token (separate q/k/v and gate/up products,
RMSNorm in six ops, RoPE's rotate_half, views and casts). The lean step computes the same layer with:

* q/k/v and gate/up as one matrix product each: the projections' weights are made views of one fused
  tensor per layer, once per model (:func:`fused_layers`; no extra memory, prefill is unchanged);
* RMSNorm in four ops (x·x plus N·eps as one batched product, rsqrt, then x·r·(w·√N)) with fp32 statistics;
* RoPE as one product with a per-step d×d rotation (cos on the diagonal, ±sin where rotate_half moves);
* residual adds folded into the output projections (``addmm_``), every intermediate written into a
  persistent buffer whose views are made once per request, and one mask table per step for all layers.

The arithmetic is HF's up to rounding order (fp32: tokens identical to the eager loop in the tests; bf16:
fp32 statistics and accumulation, within rounding). Unsupported architectures use the HF-layer step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from asl.engine.cache import PrunedKVCache
from asl.engine.layer_loop import decoder_parts

LEAN_MODEL_TYPES = ("llama", "qwen2", "mistral")
FUSED_ATTRIBUTE = "asl_fused_decode_weights"
_FP32_OUT = hasattr(torch.ops.aten.bmm, "dtype")


def _inner(module: nn.Module) -> nn.Module:
    return getattr(module, "inner", module)  # the token-chunked MLP wrapper of a request


def lean_unsupported(model: PreTrainedModel, cache: PrunedKVCache) -> str | None:
    """Why the lean step cannot run this model and cache (None when it can)."""
    cfg = model.config
    if getattr(cfg, "model_type", None) not in LEAN_MODEL_TYPES:
        return f"model type {getattr(cfg, 'model_type', None)!r} is not one of {', '.join(LEAN_MODEL_TYPES)}"
    if getattr(cfg, "hidden_act", "silu") != "silu":
        return f"activation {cfg.hidden_act!r} is not silu"
    embed, _, layers, norm, lm_head = decoder_parts(model)
    weight = embed.weight
    if weight.dtype != torch.float32 and not (weight.device.type in ("cuda", "meta") and _FP32_OUT):
        return "16-bit weights need fp32-output matrix products (CUDA; meta for op counts)"
    if getattr(lm_head, "bias", None) is not None or not hasattr(norm, "variance_epsilon"):
        return "LM head bias or a non-RMS final norm"
    if any(k is None for k in cache.keys):
        return "a layer without prompt KV"
    for layer in layers:
        attn, mlp = layer.self_attn, _inner(layer.mlp)
        linears = [getattr(attn, n, None) for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        linears += [getattr(mlp, n, None) for n in ("gate_proj", "up_proj", "down_proj")]
        if any(type(m) is not nn.Linear for m in linears):
            return "a projection that is not a plain nn.Linear"
        if any(m.bias is not None for m in linears[3:]) or getattr(attn, "q_norm", None) is not None:
            return "output/MLP biases or q/k norms"
        if not all(
            hasattr(n, "variance_epsilon") for n in (layer.input_layernorm, layer.post_attention_layernorm)
        ):
            return "a norm that is not HF's RMSNorm"
    return None


@dataclass(frozen=True)
class FusedLayer:
    """One layer's projections as fused tensors whose row slices are the modules' own weights."""

    qkv: torch.Tensor  # [Hq d + 2 Hkv d, h]
    qkv_bias: torch.Tensor | None
    gate_up: torch.Tensor  # [2 I, h]


def _fuse_rows(modules: list[nn.Module], name: str) -> torch.Tensor:
    """Concatenate ``name`` of ``modules`` along rows and make each module's tensor a view of the result."""
    parts = [getattr(m, name) for m in modules]
    fused = torch.cat([p.detach() for p in parts], dim=0)
    start = 0
    for p in parts:
        p.data = fused[start : start + p.shape[0]]
        start += p.shape[0]
    return fused


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` is a view into ``b``'s storage (the storage's identity, not its address: fake tensors,
    as in the scale check, have no addresses)."""
    return a.untyped_storage()._cdata == b.untyped_storage()._cdata


def _still_fused(fused: list[FusedLayer], layers: nn.ModuleList) -> bool:
    if len(fused) != len(layers):
        return False
    for f, layer in zip(fused, layers, strict=True):
        if not _same_storage(layer.self_attn.q_proj.weight, f.qkv):
            return False
        if not _same_storage(_inner(layer.mlp).gate_proj.weight, f.gate_up):
            return False
    return True


def fused_layers(model: PreTrainedModel) -> list[FusedLayer]:
    """The model's fused q/k/v and gate/up weights (made once; again after the weights moved)."""
    _, _, layers, _, _ = decoder_parts(model)
    memo = getattr(model, FUSED_ATTRIBUTE, None)
    if memo is not None and _still_fused(memo, layers):
        return memo
    out = []
    with torch.inference_mode(False), torch.no_grad():
        for layer in layers:
            attn, mlp = layer.self_attn, _inner(layer.mlp)
            qkv = [attn.q_proj, attn.k_proj, attn.v_proj]
            bias = _fuse_rows(qkv, "bias") if attn.q_proj.bias is not None else None
            out.append(
                FusedLayer(
                    _fuse_rows(qkv, "weight"), bias, _fuse_rows([mlp.gate_proj, mlp.up_proj], "weight")
                )
            )
    setattr(model, FUSED_ATTRIBUTE, out)
    return out


def rotate_half_matrix(dim: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """P with x @ P = rotate_half(x) = [-x2, x1] (HF's half-split RoPE layout)."""
    p = torch.zeros(dim, dim, dtype=dtype, device=device)
    half = dim // 2
    idx = torch.arange(half, device=device)
    p[idx + half, idx] = -1
    p[idx, idx + half] = 1
    return p


class _Norm:
    """HF RMSNorm of a persistent [1, h] row into a persistent [1, h] output, in four ops."""

    def __init__(self, module: nn.Module, hidden: torch.Tensor, out: torch.Tensor):
        h = hidden.shape[1]
        self.fp32_out = hidden.dtype != torch.float32
        self.eps_h = float(module.variance_epsilon) * h
        self.eps = torch.full((1, 1, 1), self.eps_h, dtype=torch.float32, device=hidden.device)
        self.weight = module.weight.detach().float() * h**0.5
        self.row, self.col, self.out = hidden.view(1, 1, h), hidden.view(1, h, 1), out.view(1, 1, h)

    def __call__(self) -> None:
        if self.fp32_out:  # x·x in fp32 from 16-bit inputs
            ss = torch.bmm(self.row, self.col, out_dtype=torch.float32).add_(self.eps_h)
        else:
            ss = torch.baddbmm(self.eps, self.row, self.col)
        ss.rsqrt_()
        torch.mul(torch.mul(self.row, ss), self.weight, out=self.out)


class LeanStep:
    """The fixed-shape step of a Llama/Qwen2/Mistral model over a :class:`PrunedKVCache` (see module doc)."""

    kind = "lean"

    def __init__(self, model: PreTrainedModel, cache: PrunedKVCache, state):
        from asl.engine.static_decode import DECODE_BLOCK

        cfg = model.config
        embed, self.rotary, layers, norm, lm_head = decoder_parts(model)
        self.state, self.num_layers = state, len(layers)
        w = embed.weight
        dev, dt = w.device, w.dtype
        h, hq, hkv = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads
        d = layers[0].self_attn.head_dim
        g, qk = hq // hkv, (hq + hkv) * d
        self.fp32_out = dt != torch.float32
        self.embed_weight, self.token_flat = w.detach(), state.token.view(1)
        self.hidden = torch.zeros(1, h, dtype=dt, device=dev)
        self.normed = torch.empty(1, h, dtype=dt, device=dev)
        self.hidden3 = self.hidden.view(1, 1, h)
        fused = fused_layers(model)
        self.qkv = torch.empty(1, fused[0].qkv.shape[0], dtype=dt, device=dev)
        self.qk_rows = self.qkv[:, :qk].view(hq + hkv, d)
        self.v_new = self.qkv[:, qk:].view(hkv, 1, d)
        self.rot = torch.empty(hq + hkv, d, dtype=dt, device=dev)
        self.q, self.k_new = self.rot[:hq].view(hkv, g, d), self.rot[hq:].view(hkv, 1, d)
        self.rotation = torch.empty(1, d, d, dtype=dt, device=dev)
        self.rotation_t = self.rotation[0]
        self.swap = rotate_half_matrix(d, dt, dev).unsqueeze(0)
        self.eye = torch.eye(d, dtype=dt, device=dev).unsqueeze(0)
        self.attn = torch.empty(hkv, g, d, dtype=dt, device=dev)
        self.attn_flat = self.attn.view(1, hq * d)
        self.attn32 = torch.empty(hkv, g, d, dtype=torch.float32, device=dev) if self.fp32_out else self.attn
        inter = fused[0].gate_up.shape[0] // 2
        self.gate_up = torch.empty(1, 2 * inter, dtype=dt, device=dev)
        self.gate, self.up = self.gate_up[:, :inter], self.gate_up[:, inter:]
        longest = max(k.shape[2] for k in cache.keys)
        self.slots = torch.arange(longest, device=dev).view(1, longest)
        self.lengths_col = state.lengths.view(-1, 1)
        self.unused = torch.empty(self.num_layers, longest, dtype=torch.bool, device=dev)
        self.bias = torch.empty(self.num_layers, longest, dtype=torch.float32, device=dev)
        self.neg_inf = torch.full((), float("-inf"), device=dev)
        self.zero = torch.zeros((), device=dev)
        self.final_norm = _Norm(norm, self.hidden, self.normed)
        self.head_t = lm_head.weight.detach().t()
        self.logits = torch.empty(1, lm_head.weight.shape[0], dtype=dt, device=dev)
        self.scratch = _Scratch([k.shape[2] for k in cache.keys], hq, d, DECODE_BLOCK, dt, self.fp32_out, dev)
        self.layers = [
            _LayerPlan(i, layer, fused[i], cache, self, DECODE_BLOCK) for i, layer in enumerate(layers)
        ]

    def begin(self) -> None:
        torch.index_select(self.embed_weight, 0, self.token_flat, out=self.hidden)
        cos, sin = self.rotary(self.hidden3, self.state.position)  # [1, 1, d] each
        torch.mul(self.swap, sin, out=self.rotation)
        self.rotation.addcmul_(self.eye, cos)
        torch.gt(self.slots, self.lengths_col, out=self.unused)
        torch.where(self.unused, self.neg_inf, self.zero, out=self.bias)

    def layer(self, index: int) -> None:
        self.layers[index].run(self)

    def end(self) -> None:
        self.final_norm()
        torch.mm(self.normed, self.head_t, out=self.logits)
        torch.argmax(self.logits, 1, keepdim=True, out=self.state.token)
        self.state.position.add_(1)
        self.state.lengths.add_(1)


def split_k_blocks(length: int, block: int) -> int:
    """Blocks of the split-K value product over a buffer of ``length`` entries (1: no split)."""
    return length // block if length % block == 0 and length > block else 1


class _Scratch:
    """The attention scratch of one request, shared by every layer (the layers run one after another):
    fp32 scores and probabilities and 16-bit (blocked) probabilities over the longest layer's buffer
    (Hq x L_max each), and the split-K partial sums of the most blocks. Each layer takes views of the
    first elements, so the scratch costs one layer's worth, not one per layer."""

    def __init__(self, lengths: list[int], heads: int, d: int, block: int, dtype, fp32_out: bool, dev):
        longest, blocks = max(lengths), [split_k_blocks(n, block) for n in lengths]
        self._views: dict[tuple, torch.Tensor] = {}
        self.scores = torch.empty(heads * longest, dtype=torch.float32, device=dev)
        self.probs = torch.empty_like(self.scores)
        needs_16 = fp32_out or max(blocks) > 1
        self.probs16 = torch.empty(heads * longest, dtype=dtype, device=dev) if needs_16 else None
        most = max(blocks) if max(blocks) > 1 else 0
        self.partial = torch.empty(heads * d * most, dtype=torch.float32, device=dev) if most else None

    def view(self, buffer: torch.Tensor, *shape: int) -> torch.Tensor:
        """The first elements of ``buffer`` as a contiguous tensor of ``shape`` (made once per shape:
        layers of one buffer length share their views)."""
        key = (id(buffer), shape)
        if key not in self._views:
            self._views[key] = buffer.narrow(0, 0, math.prod(shape)).view(*shape)
        return self._views[key]


class _LayerPlan:
    """One layer's weights, cache views and scratch buffers for the lean step (made once per request)."""

    def __init__(
        self, i: int, layer: nn.Module, fused: FusedLayer, cache: PrunedKVCache, s: LeanStep, block: int
    ):
        attn, mlp = layer.self_attn, _inner(layer.mlp)
        self.norm_in = _Norm(layer.input_layernorm, s.hidden, s.normed)
        self.norm_post = _Norm(layer.post_attention_layernorm, s.hidden, s.normed)
        self.qkv_t, self.qkv_bias = fused.qkv.t(), fused.qkv_bias
        self.o_t, self.gate_up_t = attn.o_proj.weight.detach().t(), fused.gate_up.t()
        self.down_t, self.scaling = mlp.down_proj.weight.detach().t(), float(attn.scaling)
        k_buf, v_buf = cache.keys[i][0], cache.values[i][0]  # [Hkv, L, d]
        hkv, length, d = k_buf.shape
        g = s.q.shape[1]
        self.k, self.v, self.k_t = k_buf, v_buf, k_buf.transpose(1, 2)
        self.index = s.state.lengths[i : i + 1]
        self.mask = s.bias[i : i + 1, :length].unsqueeze(0)  # [1, 1, L]
        scratch = s.scratch  # views of the request's shared scratch (one layer's worth for all layers)
        self.scores = scratch.view(scratch.scores, hkv, g, length)
        self.probs = scratch.view(scratch.probs, hkv, g, length)
        blocks = split_k_blocks(length, block)
        self.blocks = blocks
        if blocks > 1:  # split-K over blocks of entries: probs in [Hkv, S, G, B] order, partial sums in fp32
            self.probs_t = self.probs.view(hkv, g, blocks, block).transpose(1, 2)
            self.blocked = scratch.view(scratch.probs16, hkv, blocks, g, block)
            self.blocked_flat = self.blocked.view(hkv * blocks, g, block)
            self.v_blocks = v_buf.view(hkv * blocks, block, d)
            self.partial = scratch.view(scratch.partial, hkv * blocks, g, d)
            self.partial4 = self.partial.view(hkv, blocks, g, d)
        elif s.fp32_out:
            self.probs16 = scratch.view(scratch.probs16, hkv, g, length)

    def run(self, s: LeanStep) -> None:
        self.norm_in()
        if self.qkv_bias is None:
            torch.mm(s.normed, self.qkv_t, out=s.qkv)
        else:
            torch.addmm(self.qkv_bias, s.normed, self.qkv_t, out=s.qkv)
        torch.mm(s.qk_rows, s.rotation_t, out=s.rot)
        self.k.index_copy_(1, self.index, s.k_new)
        self.v.index_copy_(1, self.index, s.v_new)
        if s.fp32_out:  # fp32 q·k from 16-bit inputs, then mask + scaling·scores in place
            torch.bmm(s.q, self.k_t, out_dtype=torch.float32, out=self.scores)
            torch.add(self.mask, self.scores, alpha=self.scaling, out=self.scores)
        else:
            torch.baddbmm(self.mask, s.q, self.k_t, alpha=self.scaling, out=self.scores)
        torch._softmax(self.scores, -1, False, out=self.probs)
        self._values(s)
        s.hidden.addmm_(s.attn_flat, self.o_t)
        self.norm_post()
        torch.mm(s.normed, self.gate_up_t, out=s.gate_up)
        act = F.silu(s.gate).mul_(s.up)
        s.hidden.addmm_(act, self.down_t)

    def _values(self, s: LeanStep) -> None:
        """Probabilities times values into ``s.attn`` (split-K with fp32 partial sums for long buffers)."""
        if self.blocks > 1:
            self.blocked.copy_(self.probs_t)
            if s.fp32_out:
                torch.bmm(self.blocked_flat, self.v_blocks, out_dtype=torch.float32, out=self.partial)
                torch.sum(self.partial4, 1, out=s.attn32)
                s.attn.copy_(s.attn32)
            else:
                torch.bmm(self.blocked_flat, self.v_blocks, out=self.partial)
                torch.sum(self.partial4, 1, out=s.attn)
        elif s.fp32_out:
            torch.bmm(self.probs16.copy_(self.probs), self.v, out=s.attn)
        else:
            torch.bmm(self.probs, self.v, out=s.attn)
