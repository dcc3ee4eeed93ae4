"""The engine's attention function, registered through transformers' ``AttentionInterface``.

HF attention modules compute q/k/v and RoPE as usual and then call the function registered under
``config._attn_implementation``. The engine selects ``ENGINE_ATTENTION`` for the duration of a request
(:func:`engine_attention_enabled`) and passes its per-request object as the ``engine_request`` keyword,
which HF forwards untouched from the decoder layer to this function. No model code is copied or patched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, PreTrainedModel
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

ENGINE_ATTENTION = "asl_engine"


class AttentionRequest(Protocol):
    def attend(
        self,
        module: torch.nn.Module,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        scaling: float,
    ) -> torch.Tensor: ...


def sdpa_kernel(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, causal: bool, scaling: float
) -> torch.Tensor:
    """GQA-native SDPA ([1, H, T, d] in, [1, T, H, d] out); causal in index order when ``causal``."""
    out = F.scaled_dot_product_attention(query, key, value, is_causal=causal, scale=scaling, enable_gqa=True)
    return out.transpose(1, 2)


def hf_kernel(name: str):
    """Wrap a registered HF attention function (e.g. flash_attention_2) as an engine kernel."""
    function = ALL_ATTENTION_FUNCTIONS[name]

    def kernel(module, query, key, value, causal, scaling):
        out, _ = function(module, query, key, value, None, dropout=0.0, scaling=scaling, is_causal=causal)
        return out

    return kernel


def engine_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    engine_request: AttentionRequest | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Route a layer's attention to the engine's per-request object (plain SDPA outside a request)."""
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    if engine_request is None:
        causal = attention_mask is None and query.shape[2] > 1
        out = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, is_causal=causal, scale=scale, enable_gqa=True
        )
        return out.transpose(1, 2), None
    return engine_request.attend(module, query, key, value, scale), None


AttentionInterface.register(ENGINE_ATTENTION, engine_attention)


def kernel_for(implementation: str | None):
    """The attention kernel matching the model's configured implementation (flash on CUDA, else SDPA)."""
    if implementation and implementation.startswith("flash_attention"):
        return hf_kernel(implementation)
    return lambda module, q, k, v, causal, scaling: sdpa_kernel(q, k, v, causal, scaling)


@contextmanager
def engine_attention_enabled(model: PreTrainedModel) -> Iterator[str | None]:
    """Route the model's attention through the engine for one request; restore it afterwards."""
    previous = model.config._attn_implementation
    model.config._attn_implementation = ENGINE_ATTENTION
    try:
        yield previous
    finally:
        model.config._attn_implementation = previous
