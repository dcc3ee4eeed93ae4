"""The layer loop: embeddings, decoder layers one by one (asking the method's session), norm, LM head.

Only the last position reaches the LM head. Propagation gathers hidden states together with their
position ids and RoPE cos/sin, so every kept token keeps its original absolute position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from asl.engine.cache import PrunedKVCache
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
) -> PrefillOutput:
    """Run the prompt through the model, layer by layer, under ``session``'s decisions."""
    embed, rotary, layers, _, _ = decoder_parts(model)
    hidden = embed(input_ids)
    position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
    cos, sin = rotary(hidden, position_ids)
    request = EngineRequest(session, cache, kernel, prefill=True)
    for index, layer in enumerate(layers):
        hidden = run_layer(layer, hidden, position_ids, (cos, sin), request)
        action = session.after_layer(index)
        if action.stop:
            return PrefillOutput(None, index + 1, stop_keep=action.keep)
        if action.keep is not None:
            keep = action.keep.to(hidden.device)
            hidden, position_ids = hidden[:, keep], position_ids[:, keep]
            cos, sin = cos[:, keep], sin[:, keep]
    if session.two_pass:
        raise RuntimeError(f"{type(session).__name__}: pass 1 ran every layer without selecting")
    return PrefillOutput(last_logits(model, hidden), len(layers))


def decode_step(
    model: PreTrainedModel, token: int, position: int, cache: PrunedKVCache, kernel
) -> torch.Tensor:
    """One eager decode step at RoPE position ``position`` over the cache's used entries: [vocab] logits."""
    embed, rotary, layers, _, _ = decoder_parts(model)
    device = embed.weight.device
    hidden = embed(torch.tensor([[token]], device=device))
    position_ids = torch.tensor([[position]], device=device)
    position_embeddings = rotary(hidden, position_ids)
    request = EngineRequest(None, cache, kernel, prefill=False)
    for layer in layers:
        hidden = run_layer(layer, hidden, position_ids, position_embeddings, request)
    return last_logits(model, hidden)
