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
    """Per-request attention state handed to the registered attention function (HF's layer forward).

    In prefill every member ``(session, cache)`` sees the layer's q/k/v and stores what it keeps; in
    decoding the one ``cache`` is appended to.
    """

    def __init__(self, members: list[Member], cache: PrunedKVCache | None, kernel, prefill: bool,
                 shared: dict | None = None):  # fmt: skip
        self.members, self.cache, self.kernel, self.prefill = members, cache, kernel, prefill
        self.shared = shared

    def attend(self, module, query, key, value, scaling):
        layer = module.layer_idx
        if not self.prefill:
            key, value = self.cache.append(layer, key, value)
            return self.kernel(module, query, key, value, False, scaling)
        out = self.kernel(module, query, key, value, True, scaling)
        for member in self.members:
            member.attend(layer, query, key, value, scaling, self.shared)
        return out


@dataclass(eq=False)
class Member:
    """One session of a prefill (alone, or sharing the full-token trunk with others) and what it got."""

    session: Session
    cache: PrunedKVCache
    logits: torch.Tensor | None = None  # [vocab] logits of the last position (None when pass 1 stopped)
    layers_run: int = 0
    stop_keep: torch.Tensor | None = None  # two-pass: original prompt indices selected in pass 1
    fork_layer: int | None = None  # the layer after which it left a shared trunk (None: it did not)

    def attend(self, layer: int, query, key, value, scaling: float, shared: dict | None = None) -> None:
        """Let the session see the layer's q/k/v and store what it keeps (``shared``: whole-layer buffers
        the members of a shared prefill reuse, :meth:`PrunedKVCache.store`)."""
        kept = self.session.on_attention(layer, query, key, value, scaling)
        if kept is not None:
            self.cache.store(layer, *kept, shared=shared)


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
    member = Member(session, cache)
    prefill_group(model, input_ids, [member], kernel, chunk, scratch)
    return PrefillOutput(member.logits, member.layers_run, member.stop_keep)


def prefill_group(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    members: list[Member],
    kernel,
    chunk: int | None = None,
    scratch: LayerScratch | None = None,
) -> None:
    """One prefill for several sessions: the full-token trunk runs once while any member is on it.

    Every member sees each trunk layer's q/k/v and keeps its own cache. A member that propagates a subset
    after layer l leaves the trunk there and continues on its own branch (its kept hidden states and
    positions); a two-pass member that stops takes its selection and leaves; the others share the last
    logits. A lone member runs exactly as ``prefill`` runs it, and a branch runs the same layer code on
    the same values, so each member's result is the one it gets alone (``tests/test_engine_shared.py``).
    """
    embed = decoder_parts(model)[0]
    position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
    scratch = scratch or LayerScratch()
    # a session that needs HF's own layer forward (unchunked) would change the trunk's arithmetic for
    # the others: it runs alone
    alone = [m for m in members if m.session.full_layer_inputs and len(members) > 1]
    groups = [[m] for m in alone] + [[m for m in members if all(m is not a for a in alone)]]
    for group in groups:
        if group:
            shared: dict = {}  # whole-layer KV buffers of this trunk, one per layer however many keep it
            run_layers(model, embed(input_ids), position_ids, group, 0, kernel, chunk, scratch, shared)


def run_layers(
    model, hidden, position_ids, members: list[Member], first: int, kernel, chunk, scratch,
    shared: dict | None = None,
) -> None:  # fmt: skip
    """Layers ``first``.. on ``hidden`` for ``members`` (see :func:`prefill_group`)."""
    _, rotary, layers, _, _ = decoder_parts(model)
    for index in range(first, len(layers)):
        hidden = prefill_layer(
            layers[index], index, hidden, position_ids, rotary, members, kernel, chunk, scratch,
            shared if len(members) > 1 else None,
        )  # fmt: skip
        staying = []
        for member in members:
            action = member.session.after_layer(index)
            member.layers_run = index + 1
            if action.stop:
                member.stop_keep, member.fork_layer = action.keep, index
            elif action.keep is None:
                staying.append(member)
            elif len(members) == 1:  # alone: propagate in place
                keep = action.keep.to(hidden.device)
                hidden, position_ids = hidden.index_select(1, keep), position_ids.index_select(1, keep)
                staying.append(member)
            else:  # fork: its own branch from the next layer on
                member.fork_layer = index
                keep = action.keep.to(hidden.device)
                branch, branch_positions = hidden.index_select(1, keep), position_ids.index_select(1, keep)
                run_layers(
                    model, branch, branch_positions, [member], index + 1, kernel, chunk, LayerScratch()
                )
        members = staying
        if not members:
            return
    for member in members:
        if member.session.two_pass:
            raise RuntimeError(f"{type(member.session).__name__}: pass 1 ran every layer without selecting")
    logits = last_logits(model, hidden)
    for member in members:
        member.logits = logits


def prefill_layer(
    layer,
    index: int,
    hidden: torch.Tensor,
    position_ids: torch.Tensor,
    rotary,
    members: list[Member],
    kernel,
    chunk: int | None,
    scratch: LayerScratch,
    shared: dict | None = None,
) -> torch.Tensor:
    """One decoder layer of the prefill: attention (each member sees q/k/v and picks what to cache), MLP.

    The chunked path updates ``hidden`` in place and returns it; HF's forward returns a new tensor.
    """
    parts = layer_parts(layer)
    if parts is None or any(member.session.full_layer_inputs for member in members):
        position_embeddings = rotary(hidden, position_ids)
        request = EngineRequest(members, None, kernel, prefill=True, shared=shared)
        return run_layer(layer, hidden, position_ids, position_embeddings, request)
    query, key, value = attention_block(parts, hidden, position_ids, rotary, kernel, chunk, scratch)
    for member in members:
        member.attend(index, query, key, value, parts.scaling, shared)
    del query, key, value
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
    request = EngineRequest([], cache, kernel, prefill=False)
    for layer in layers:
        hidden = run_layer(layer, hidden, position_ids, position_embeddings, request)
    return last_logits(model, hidden)
