"""Aten ops of one static decode step, per layer: what a CPU op trace (or fake tensors) sees.

Every op that reaches the dispatcher below autograd is counted, views and in-place ops included (a
``TorchDispatchMode``); composite ops count as the ops they decompose into. Nothing is captured, so the
count is the same on CPU, CUDA and fake tensors for the same code path (the step's fp32/16-bit branches
differ: 16-bit adds casts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import PreTrainedModel

from asl.engine.cache import PrunedKVCache


class OpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched inside it (by overload name)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func)] += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable[[], None]) -> Counter[str]:
    """The aten ops ``fn`` dispatches."""
    with OpCounter() as counter:
        fn()
    return counter.ops


@dataclass(frozen=True)
class DecodeOpCounts:
    """Ops of one decode step: before the layers, per layer, after the layers, and which step ran."""

    kind: str  # "lean" or "layers" (HF's decoder layers)
    begin: int
    per_layer: list[int]
    end: int
    by_op: dict[str, int] = field(default_factory=dict)  # the first layer's ops by name

    @property
    def total(self) -> int:
        return self.begin + sum(self.per_layer) + self.end

    @property
    def mean_per_layer(self) -> float:
        return sum(self.per_layer) / max(1, len(self.per_layer))


@torch.inference_mode()
def decode_op_counts(
    model: PreTrainedModel,
    cache: PrunedKVCache,
    token: int = 0,
    position: int | None = None,
    lean: bool = True,
) -> DecodeOpCounts:
    """Count the aten ops of one static decode step of ``model`` over ``cache``.

    ``cache`` is a prefilled cache with decode room (``decode_room`` >= 1, buffers aligned to
    ``DECODE_BLOCK`` as the static mode makes them); the step writes one entry past each layer's length
    but leaves ``cache.lengths`` unchanged. ``position`` defaults to the longest layer length. ``lean``:
    the lean step where the model allows it (else, and with False, HF's layers).
    """
    from asl.engine.attention import engine_attention_enabled
    from asl.engine.static_decode import StepState, build_step

    device = model.get_input_embeddings().weight.device
    position = max(cache.lengths) if position is None else position
    state = StepState.create(cache, token, position, device)
    step = build_step(model, cache, state, lean)
    with engine_attention_enabled(model):
        begin = count_ops(step.begin)
        layers = [count_ops(lambda i=i: step.layer(i)) for i in range(step.num_layers)]
        end = count_ops(step.end)
    return DecodeOpCounts(
        step.kind, sum(begin.values()), [sum(c.values()) for c in layers], sum(end.values()), dict(layers[0])
    )


def decode_ops_per_layer(
    model: PreTrainedModel,
    cache: PrunedKVCache,
    token: int = 0,
    position: int | None = None,
    lean: bool = True,
) -> float:
    """Mean aten ops per decoder layer in one static decode step (see :func:`decode_op_counts`)."""
    return decode_op_counts(model, cache, token, position, lean).mean_per_layer


def synthetic_cache(
    model: PreTrainedModel, kv_lengths: list[int], decode_room: int, cap: int | None = None
) -> PrunedKVCache:
    """A static-mode cache of zeros with ``kv_lengths`` entries per layer (each capped at ``cap``).

    The step's ops depend only on whether a buffer spans more than one split-K block, so a cap of
    ``2 * DECODE_BLOCK + 1`` keeps the count of a long cache at a few hundred entries.
    """
    from asl.engine.static_decode import DECODE_BLOCK

    cfg = model.config
    weight = model.get_input_embeddings().weight
    heads = cfg.num_key_value_heads
    dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    cache = PrunedKVCache(len(kv_lengths), decode_room=max(1, decode_room), align=DECODE_BLOCK)
    for layer, n in enumerate(kv_lengths):
        n = max(1, min(int(n), cap) if cap else int(n))
        zeros = torch.zeros(1, heads, n, dim, dtype=weight.dtype, device=weight.device)
        cache.store(layer, zeros, zeros)
    return cache


def decode_ops_for_lengths(model: PreTrainedModel, kv_lengths: list[int], decode_room: int) -> float:
    """:func:`decode_ops_per_layer` of the static step over a cache shaped like ``kv_lengths`` (capped)."""
    from asl.engine.static_decode import DECODE_BLOCK

    cache = synthetic_cache(model, kv_lengths, decode_room, cap=2 * DECODE_BLOCK + 1)
    return decode_ops_per_layer(model, cache)
