"""The per-request session that runs a kvpress press where the engine compresses (docs/kvpress.md).

kvpress calls a press from a forward hook after each attention layer, with the layer's input hidden states,
its RoPE ``position_embeddings``, the cached keys/values and (eager attention only) the attention matrix.
Here the engine's attention function hands the session the post-RoPE keys and values of the full prompt
(every layer sees full attention); the session captures the attention module's input (hidden states and
RoPE cos/sin) with a forward pre-hook registered for the request (removed when the prefill ends), and
calls the press with exactly what kvpress's hook would pass. The cache keeps the press's choice.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel

from asl.methods.base import Session
from baselines.kvpress_support import OWN, SCORER, ratio_for_budget


class ModuleView:
    """An attention module as a press sees it: every attribute of the module, plus the model's
    ``rotary_emb`` (kvpress attaches it to each module inside its context manager; here nothing is
    written to the model)."""

    def __init__(self, module: torch.nn.Module, rotary_emb: torch.nn.Module):
        self._module = module
        self.rotary_emb = rotary_emb

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def eager_attention(query: torch.Tensor, key: torch.Tensor, scaling: float) -> torch.Tensor:
    """Causal softmax attention weights [1, H_q, T, T] (fp32 softmax, cast back to the query dtype), the
    ``attentions`` kvpress's hook receives under eager attention."""
    group = query.shape[1] // key.shape[1]
    keys = key.repeat_interleave(group, dim=1)
    logits = torch.matmul(query, keys.transpose(-1, -2)) * scaling
    length = query.shape[2]
    future = torch.triu(torch.ones(length, length, dtype=torch.bool, device=query.device), diagonal=1)
    logits = logits.masked_fill(future, float("-inf"))
    return torch.softmax(logits, dim=-1, dtype=torch.float32).to(query.dtype)


def top_budget_indices(scores: torch.Tensor, budget: int) -> torch.Tensor:
    """The ``budget`` highest-scored positions per KV head ([1, H_kv, T] scores), kvpress's top-k, sorted
    ascending (the stored order does not matter once RoPE is applied; ascending keeps tests simple)."""
    return torch.sort(scores[0].topk(budget, dim=-1).indices, dim=-1).values


class PressSession(Session):
    #: presses read the attention module's input and every query (e.g. ObservedAttention's full attention
    #: matrix): the engine runs this session's layers through HF's forward, unchunked
    full_layer_inputs = True

    """Calls ``press`` on every layer's prefill KV and caches what it keeps."""

    def __init__(
        self,
        num_layers: int,
        prompt_len: int,
        press: Any,
        kind: str,
        kv_budget: int | None,
        compression_ratio: float | None,
        needs_attentions: bool,
    ):
        super().__init__(num_layers, prompt_len)
        self.press, self.kind = press, kind
        self.kv_budget, self.compression_ratio = kv_budget, compression_ratio
        self.needs_attentions = needs_attentions
        self._inputs: dict[int, tuple[torch.Tensor, Any, Any]] = {}
        self._modules: dict[int, ModuleView] = {}
        self._hooks: list[Any] = []
        self.kept_indices: dict[int, torch.Tensor] = {}  # scorer presses: [H_kv, kept] per layer

    # -- binding to the model for one request ----------------------------------------------------------
    def bind(self, model: PreTrainedModel) -> None:
        """Capture each attention module's input during this request's prefill."""
        base = getattr(model, model.base_model_prefix)
        self.press.post_init_from_model(model)
        for layer in base.layers:
            attention = layer.self_attn
            self._modules[attention.layer_idx] = ModuleView(attention, base.rotary_emb)
            self._hooks.append(attention.register_forward_pre_hook(self._capture, with_kwargs=True))

    def _capture(self, module, args, kwargs) -> None:
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        self._inputs[module.layer_idx] = (
            hidden,
            kwargs.get("position_embeddings"),
            kwargs.get("position_ids"),
        )

    def release(self) -> None:
        """Remove the capture hooks (after the last layer's prefill, at finish, or when a new session binds)."""
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
        self._inputs.clear()

    def finish(self) -> None:
        self.release()

    # -- the engine's hooks -------------------------------------------------------------------------------
    def on_attention(self, layer, query, key, value, scaling):
        if layer not in self._inputs:
            raise RuntimeError("PressSession: the session was not bound to the model (Session.bind)")
        hidden, position_embeddings, position_ids = self._inputs.pop(layer)
        if layer == self.num_layers - 1:
            self.release()
        length = key.shape[2]
        budget = self._budget(length)
        if budget is not None and budget >= length:
            return key, value
        module = self._modules[layer]
        attentions = eager_attention(query, key, scaling) if self.needs_attentions else None
        kwargs = {
            "hidden_states": hidden,
            "position_embeddings": position_embeddings,
            "position_ids": position_ids,
            "attention_mask": None,
            "cache_position": torch.arange(length, device=key.device),
        }
        if self.kind != OWN:  # some presses read it in score (StreamingLLMPress), the others in compress
            self.press.compression_ratio = self._ratio(length, budget)
        if self.kind == SCORER:
            scores = self.press.score(module, hidden, key, value, attentions, kwargs)
            indices = top_budget_indices(scores, budget)
            self.kept_indices[layer] = indices
            index = indices.unsqueeze(0).unsqueeze(-1)
            return key.gather(2, index.expand(-1, -1, -1, key.shape[-1])), value.gather(
                2, index.expand(-1, -1, -1, value.shape[-1])
            )
        keys, values = self.press.compress(module, hidden, key, value, attentions, kwargs)
        return keys.contiguous(), values.contiguous()  # in the press's order (the cache is order-free)

    def _budget(self, length: int) -> int | None:
        """Entries to keep of ``length`` (None: the press decides, OWN presses)."""
        if self.kind == OWN:
            return None
        if self.kv_budget is not None:
            return self.kv_budget
        return max(1, int(length * (1 - self.compression_ratio)))

    def _ratio(self, length: int, budget: int) -> float:
        if self.kv_budget is None:
            return self.compression_ratio
        return ratio_for_budget(length, budget)
