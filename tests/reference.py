"""Naive references for the equivalence tests: plain HF layers, explicit masks, eager attention.

Nothing here uses the engine: selection scores come from HF's eager attention probabilities
(``output_attentions=True``), and propagation is recomputed without any cache.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


@contextlib.contextmanager
def eager(model):
    """Temporarily switch a model to HF's eager attention."""
    previous = model.config._attn_implementation
    model.config._attn_implementation = "eager"
    try:
        yield model
    finally:
        model.config._attn_implementation = previous


def causal_mask(length: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive [1, 1, T, T] causal mask."""
    mask = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype).triu(1)
    return mask[None, None]


@torch.inference_mode()
def attention_probs(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """Per layer [H_q, N, N] softmax attention of a full forward (eager)."""
    with eager(model):
        out = model(ids, output_attentions=True)
    return [a[0].float() for a in out.attentions]


@torch.inference_mode()
def prompt_keys(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """Per layer post-RoPE keys [1, H_kv, N, d] of a plain HF forward."""
    out = model(ids, use_cache=True)
    return [layer.keys for layer in out.cache.layers]


def naive_kv_scores(probs: torch.Tensor, window: int, kernel: int, num_kv_heads: int) -> torch.Tensor:
    """S_kv from full attention probabilities: window rows summed, window columns dropped, pooled, grouped."""
    num_q_heads, length, _ = probs.shape
    hist = probs[:, length - window :, : length - window].sum(dim=1)
    pooled = (
        F.avg_pool1d(hist[:, None, :], kernel, stride=1, padding=kernel // 2)[:, 0, :] if kernel > 1 else hist
    )
    return pooled.view(num_kv_heads, num_q_heads // num_kv_heads, -1).sum(dim=1)


def naive_keep(scores: torch.Tensor, budget: int, window: int) -> torch.Tensor:
    """Top-(budget - window) of a 1-D prefix score vector plus the window, ascending."""
    prefix = scores.shape[0]
    order = sorted(range(prefix), key=lambda j: (-float(scores[j]), j))[: budget - window]
    return torch.tensor(sorted(order) + list(range(prefix, prefix + window)))


@torch.inference_mode()
def propagated_logits(model, ids: torch.Tensor, split_layer: int, keep_prompt: torch.Tensor, prompt_len: int):
    """Last-position logits, no cache: layers 0..split on every token, deeper layers on the kept prompt
    tokens plus every generated token, at their original positions, causal in original order."""
    base = model.model
    hidden = base.embed_tokens(ids)
    total = ids.shape[1]
    positions = torch.arange(total)[None]
    rope = base.rotary_emb(hidden, positions)
    with eager(model):
        for index, layer in enumerate(base.layers):
            if index == split_layer + 1:
                keep = torch.cat([keep_prompt, torch.arange(prompt_len, total)])
                hidden, positions = hidden[:, keep], positions[:, keep]
                rope = (rope[0][:, keep], rope[1][:, keep])
            mask = causal_mask(hidden.shape[1], hidden.dtype)
            out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope)
            hidden = out[0] if isinstance(out, tuple) else out
    return model.lm_head(base.norm(hidden[:, -1:]))[0, -1].float()


def naive_greedy(
    model, prompt: torch.Tensor, steps: int, split_layer: int, keep_prompt: torch.Tensor
) -> list[int]:
    """Greedy tokens of the no-cache propagation reference."""
    ids = prompt.clone()
    tokens = []
    for _ in range(steps):
        token = int(torch.argmax(propagated_logits(model, ids, split_layer, keep_prompt, prompt.shape[1])))
        tokens.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokens


def random_prompt(length: int, vocab: int, seed: int) -> torch.Tensor:
    """[1, length] token ids from a seeded generator (not all-ones)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (1, length), generator=generator)


@torch.inference_mode()
def masked_decode_greedy(
    model, prompt: torch.Tensor, steps: int, keep_per_layer: list[torch.Tensor]
) -> list[int]:
    """Greedy tokens without a cache where generated tokens see, at layer l and KV head g, only the prompt
    positions ``keep_per_layer[l][g]`` (plus every generated token); prompt tokens attend causally as usual.
    This is what per-KV-head cache compression after prefill means."""
    base = model.model
    prompt_len = prompt.shape[1]
    num_q = model.config.num_attention_heads
    group = num_q // model.config.num_key_value_heads
    ids, tokens = prompt.clone(), []
    for _ in range(steps):
        hidden = base.embed_tokens(ids)
        total = ids.shape[1]
        positions = torch.arange(total)[None]
        rope = base.rotary_emb(hidden, positions)
        with eager(model):
            for index, layer in enumerate(base.layers):
                mask = causal_mask(total, hidden.dtype).expand(1, num_q, total, total).clone()
                for head in range(num_q):
                    dropped = torch.ones(prompt_len, dtype=torch.bool)
                    dropped[keep_per_layer[index][head // group]] = False
                    mask[0, head, prompt_len:, :prompt_len][:, dropped] = torch.finfo(hidden.dtype).min
                out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope)
                hidden = out[0] if isinstance(out, tuple) else out
        token = int(torch.argmax(model.lm_head(base.norm(hidden[:, -1:]))[0, -1]))
        tokens.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokens
