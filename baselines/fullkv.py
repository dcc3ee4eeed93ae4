"""Full KV: the unmodified model (methods.md §1)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import PruningMethod, Session
from asl.methods.sessions import OnePassSession


@dataclass(frozen=True)
class FullKV(PruningMethod):
    """The full prompt at every layer and the full KV cache."""

    name: str = "fullkv"

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        return OnePassSession(num_layers, prompt_len, window=1, pool_kernel=1)
