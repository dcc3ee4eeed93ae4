"""Full KV: the unmodified model (methods.md §1)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import PruningMethod, Session
from asl.methods.sessions import OnePassSession


@dataclass(frozen=True, kw_only=True)
class FullKV(PruningMethod):
    """The full prompt at every layer and the full KV cache."""

    display_name = "Full KV"
    color = "#000000"
    marker = "s"
    order = 0

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        return OnePassSession(num_layers, prompt_len)
