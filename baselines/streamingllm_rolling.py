"""StreamingLLM as published: sinks + recent window, also while decoding (Xiao et al. 2024).

The prompt KV is compressed as :class:`~baselines.streamingllm.StreamingLLM` does (the first ``num_sinks``
entries and the last ``kv_budget - num_sinks``). After every decode step the session evicts, through the
engine's per-step hook, the oldest non-sink entry at each layer, so the cache holds ``kv_budget`` entries
between steps and each step attends to those and itself. Kept keys keep their absolute RoPE positions
(docs/methods.md §2b). Decoding is eager (the static step's shapes are fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asl.methods.base import Session
from asl.methods.sessions import OnePassSession
from baselines.streamingllm import SinkWindowCompressor, StreamingLLM


def evict_to_sinks_and_recent(cache, budget: int, num_sinks: int) -> None:
    """Keep the first ``num_sinks`` and the last ``budget - num_sinks`` entries of every layer, in place."""
    recent = budget - num_sinks
    for layer, length in enumerate(cache.lengths):
        if length <= budget or cache.keys[layer] is None:
            continue
        for buffer in (cache.keys[layer], cache.values[layer]):
            buffer[:, :, num_sinks:budget] = buffer[:, :, length - recent : length].clone()
        cache.lengths[layer] = budget


class RollingSession(OnePassSession):
    """Prompt: sinks + recent window; decoding: evict the oldest non-sink entry after each step."""

    def __init__(self, num_layers: int, prompt_len: int, budget: int, num_sinks: int):
        super().__init__(num_layers, prompt_len, compressor=SinkWindowCompressor(budget, num_sinks))
        self.budget, self.num_sinks = budget, num_sinks

    @torch.inference_mode()
    def on_decode_step(self, cache, position: int) -> None:
        evict_to_sinks_and_recent(cache, self.budget, self.num_sinks)


@dataclass(frozen=True, kw_only=True)
class StreamingLLMRolling(StreamingLLM):
    """Sinks + recent window in the prompt KV and at every decode step."""

    display_name = "StreamingLLM (rolling)"
    color = "#BBBB55"
    order = 13
    decode_eviction = True

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        return RollingSession(num_layers, prompt_len, self.kv_budget, self.num_sinks)
