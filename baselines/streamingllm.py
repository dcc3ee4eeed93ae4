"""StreamingLLM: attention sinks plus the most recent tokens (Xiao et al. 2024), applied to the prompt KV.

Each layer keeps the first ``num_sinks`` entries (the attention sinks) and the last ``kv_budget -
num_sinks`` entries, the same positions for every KV head, whatever the attention scores. Kept entries
carry RoPE at their original positions, and decoding appends to them (as kvpress's and KVCache-Factory's
prefill-compression ports do; the paper's rolling cache also evicts during decoding, which none of the
methods here do).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asl.methods.base import LayerScores, PruningMethod, Session, check, check_int
from asl.methods.sessions import OnePassSession


def sink_window_indices(length: int, budget: int, num_sinks: int) -> torch.Tensor:
    """The first ``num_sinks`` positions and the last ``budget - num_sinks``, ascending."""
    recent = budget - num_sinks
    return torch.cat([torch.arange(num_sinks), torch.arange(length - recent, length)])


class SinkWindowCompressor:
    """Keeps the sinks and the recent window at every layer (no scores needed)."""

    def __init__(self, budget: int, num_sinks: int):
        self.budget, self.num_sinks = budget, num_sinks

    def applies(self, layer: int, length: int) -> bool:
        return length > self.budget

    def compress(
        self, layer: int, key: torch.Tensor, value: torch.Tensor, scores: LayerScores
    ) -> tuple[torch.Tensor, torch.Tensor]:
        index = sink_window_indices(key.shape[2], self.budget, self.num_sinks).to(key.device)
        return key[:, :, index], value[:, :, index]


@dataclass(frozen=True, kw_only=True)
class StreamingLLM(PruningMethod):
    """Sinks + recent window in every layer's prompt KV."""

    kv_budget: int
    num_sinks: int

    display_name = "StreamingLLM"
    color = "#999933"
    marker = ">"
    order = 12

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check_int(self, "kv_budget", self.kv_budget, minimum=1, what="a positive integer")
        check_int(self, "num_sinks", self.num_sinks, minimum=0, what="a non-negative integer")
        check(
            self.kv_budget > self.num_sinks,
            f"{self.name}: kv_budget ({self.kv_budget}) must be larger than num_sinks ({self.num_sinks})",
        )

    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        return [min(self.kv_budget, n)] * num_layers

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        compressor = SinkWindowCompressor(self.kv_budget, self.num_sinks)
        return OnePassSession(num_layers, prompt_len, compressor=compressor)
