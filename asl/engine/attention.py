"""The engine's attention function, registered through transformers' ``AttentionInterface``.

HF attention modules compute q/k/v and RoPE as usual and then call the function registered under
``config._attn_implementation``. The engine selects ``ENGINE_ATTENTION`` for the duration of a request
(:func:`engine_attention_enabled`) and passes its per-request object as the ``engine_request`` keyword,
which HF forwards untouched from the decoder layer to this function. No model code is copied or patched.

The kernels the engine calls from there are plain functions of (module, q, k, v, causal, scaling). The
FlashAttention kernel is HF's own registered wrapper; it reads the implementation to load from
``module.config._attn_implementation``, which names the engine during a request, so the engine hands it a
read-only view of the module whose config reports the real implementation (:class:`ModuleView`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right
from transformers import AttentionInterface, PreTrainedModel
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

ENGINE_ATTENTION = "asl_engine"
SDPA = "sdpa"


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
    """GQA-native SDPA ([1, H, Tq, d] x [1, Hkv, Tk, d] in, [1, Tq, H, d] out).

    ``causal`` aligns the mask bottom-right, as FlashAttention >= 2.1 does: query i of Tq <= Tk sees keys
    0..Tk-Tq+i (the chunked prefill's query chunk [s, e) against keys 0..e-1). A square call is plain
    causal; a non-square one uses PyTorch's lower-right causal bias (no mask materialised on CUDA).
    """
    q_len, k_len = query.shape[2], key.shape[2]
    if causal and q_len != k_len:
        if q_len > k_len:
            raise ValueError(f"causal attention with more queries ({q_len}) than keys ({k_len})")
        out = F.scaled_dot_product_attention(
            query, key, value, attn_mask=causal_lower_right(q_len, k_len), scale=scaling, enable_gqa=True
        )
    else:
        out = F.scaled_dot_product_attention(
            query, key, value, is_causal=causal, scale=scaling, enable_gqa=True
        )
    return out.transpose(1, 2)


class _ConfigView:
    """A model config that reports ``implementation`` as its attention implementation (nothing is copied)."""

    def __init__(self, config: Any, implementation: str):
        self._config = config
        self._attn_implementation = implementation

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


class ModuleView:
    """What HF's attention wrappers read of an attention module, with the real implementation's name.

    Attribute reads (``layer_idx``, ``is_causal``, ``modules()``, ...) go to the module; ``config`` is a
    view of its config whose ``_attn_implementation`` is ``implementation``. Nothing is modified.
    """

    def __init__(self, module: torch.nn.Module, implementation: str):
        self._module = module
        self.config = _ConfigView(module.config, implementation)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


@dataclass(frozen=True)
class Kernel:
    """An attention kernel of the engine and the name of what runs (results record ``name``)."""

    name: str
    fn: Callable[..., torch.Tensor]

    def __call__(self, module, query, key, value, causal: bool, scaling: float) -> torch.Tensor:
        return self.fn(module, query, key, value, causal, scaling)


def hf_kernel(name: str) -> Kernel:
    """A registered HF attention function (e.g. flash_attention_2) as an engine kernel.

    HF's flash wrapper loads the kernel named by ``module.config._attn_implementation``; the module is
    passed through a :class:`ModuleView` so that it sees ``name``, not the engine's own name.
    """
    function = ALL_ATTENTION_FUNCTIONS[name]

    def kernel(module, query, key, value, causal, scaling):
        out, _ = function(
            ModuleView(module, name), query, key, value, None, dropout=0.0, scaling=scaling, is_causal=causal
        )
        return out

    return Kernel(name, kernel)


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


def is_flash(implementation: str | None) -> bool:
    """True for HF's FlashAttention implementations (flash_attention_2, _3, ...)."""
    return bool(implementation) and implementation.startswith("flash_attention")


def kernel_for(implementation: str | None) -> Kernel:
    """The attention kernel matching the model's configured implementation (flash when set, else SDPA)."""
    if is_flash(implementation):
        if implementation not in ALL_ATTENTION_FUNCTIONS:
            raise ValueError(
                f"attention implementation {implementation!r} is not registered with transformers"
            )
        return hf_kernel(implementation)
    return Kernel(SDPA, lambda module, q, k, v, causal, scaling: sdpa_kernel(q, k, v, causal, scaling))


@contextmanager
def engine_attention_enabled(model: PreTrainedModel) -> Iterator[str | None]:
    """Route the model's attention through the engine for one request; restore it afterwards."""
    previous = model.config._attn_implementation
    model.config._attn_implementation = ENGINE_ATTENTION
    try:
        yield previous
    finally:
        model.config._attn_implementation = previous
