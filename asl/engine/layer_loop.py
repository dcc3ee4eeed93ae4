"""The layer loop: embeddings, decoder layers one by one (asking the method's session), norm, LM head.

Only the last position reaches the LM head. Propagation gathers hidden states together with their
position ids (RoPE's cos/sin are computed per chunk from them), so every kept token keeps its original
absolute position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from asl.engine.cache import PrunedKVCache
from asl.engine.chunked_layer import LayerScratch, attention_block, layer_parts, mlp_block
from asl.methods.base import Session


class EngineRequest:
    """Per-request attention state handed to the registered attention function."""

    def __init__(self, session: Session | None, cache: PrunedKVCache, kernel, prefill: bool):
        self.session, self.cache, self.kernel, self.prefill = session, cache, kernel, prefill

    def attend(self, module, query, key, value, scaling):
        layer = module.layer_idx
        if not self.prefill:
            key, value = self.cache.append(layer, key, value)
            return self.kernel(module, query, key, value, False, scaling)
        out = self.kernel(module, query, key, value, True, scaling)
        kept = self.session.on_attention(layer, query, key, value, scaling)
        if kept is not None:
            self.cache.store(layer, *kept)
        return out


@dataclass
class PrefillOutput:
    """Result of one prefill pass."""

    logits: torch.Tensor | None  # [vocab] logits of the last position (None when pass 1 stopped)
    layers_run: int
    stop_keep: torch.Tensor | None = None  # two-pass: original prompt indices selected in pass 1


def host_longs(values, device: torch.device) -> torch.Tensor:
    """Host integers as a long tensor on ``device`` (built on the host, then copied, as ``torch.tensor(...,
    device=...)`` does; written out so that fake-tensor runs see the copy)."""
    return torch.tensor(values, dtype=torch.long).to(device)


def decoder_parts(model: PreTrainedModel):
    """(embed_tokens, rotary_emb, layers, norm, lm_head) of a Llama/Qwen2/Mistral-style causal LM."""
    base = getattr(model, model.base_model_prefix)
    return base.embed_tokens, base.rotary_emb, base.layers, base.norm, model.lm_head


def run_layer(layer, hidden, position_ids, position_embeddings, request) -> torch.Tensor:
    """One HF decoder layer with the engine's per-request object forwarded to its attention."""
    out = layer(
        hidden,
        attention_mask=None,
        position_ids=position_ids,
        position_embeddings=position_embeddings,
        engine_request=request,
    )
    return out[0] if isinstance(out, tuple) else out


def last_logits(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    """Final norm and LM head on the last position only: [vocab] in float32."""
    _, _, _, norm, lm_head = decoder_parts(model)
    return lm_head(norm(hidden[:, -1:, :]))[0, -1].float()


def prefill(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    session: Session,
    cache: PrunedKVCache,
    kernel,
    chunk: int | None = None,
    scratch: LayerScratch | None = None,
) -> PrefillOutput:
    """Run the prompt through the model, layer by layer, under ``session``'s decisions.

    Pre-norm Llama/Qwen2/Mistral layers run in token chunks of ``chunk`` (``asl.engine.chunked_layer``;
    None: one chunk); other layers run HF's layer forward on every token at once.
    """
    embed, rotary, layers, _, _ = decoder_parts(model)
    hidden = embed(input_ids)
    position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
    scratch = scratch if scratch is not None else LayerScratch()
    for index, layer in enumerate(layers):
        hidden = prefill_layer(
            layer, index, hidden, position_ids, rotary, session, cache, kernel, chunk, scratch
        )
        action = session.after_layer(index)
        if action.stop:
            return PrefillOutput(None, index + 1, stop_keep=action.keep)
        if action.keep is not None:
            keep = action.keep.to(hidden.device)
            hidden, position_ids = hidden.index_select(1, keep), position_ids.index_select(1, keep)
    if session.two_pass:
        raise RuntimeError(f"{type(session).__name__}: pass 1 ran every layer without selecting")
    return PrefillOutput(last_logits(model, hidden), len(layers))


def prefill_layer(
    layer,
    index: int,
    hidden: torch.Tensor,
    position_ids: torch.Tensor,
    rotary,
    session: Session,
    cache: PrunedKVCache,
    kernel,
    chunk: int | None,
    scratch: LayerScratch,
) -> torch.Tensor:
    """One decoder layer of the prefill: attention (the session sees q/k/v and picks what to cache), MLP.

    The chunked path updates ``hidden`` in place and returns it; HF's forward returns a new tensor.
    """
    parts = layer_parts(layer)
    if parts is None:
        position_embeddings = rotary(hidden, position_ids)
        request = EngineRequest(session, cache, kernel, prefill=True)
        return run_layer(layer, hidden, position_ids, position_embeddings, request)
    query, key, value = attention_block(parts, hidden, position_ids, rotary, kernel, chunk, scratch)
    kept = session.on_attention(index, query, key, value, parts.scaling)
    del query
    if kept is not None:
        cache.store(index, *kept)
    del kept, key, value
    mlp_block(parts, hidden, chunk)
    return hidden


def decode_step(
    model: PreTrainedModel, token: int, position: int, cache: PrunedKVCache, kernel
) -> torch.Tensor:
    """One eager decode step at RoPE position ``position`` over the cache's used entries: [vocab] logits."""
    embed, rotary, layers, _, _ = decoder_parts(model)
    device = embed.weight.device
    hidden = embed(host_longs([[token]], device))
    position_ids = host_longs([[position]], device)
    position_embeddings = rotary(hidden, position_ids)
    request = EngineRequest(None, cache, kernel, prefill=False)
    for layer in layers:
        hidden = run_layer(layer, hidden, position_ids, position_embeddings, request)
    return last_logits(model, hidden)
