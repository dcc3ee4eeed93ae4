"""GemFilter: two passes, last-token q·k at the filter layer, re-run on the selected ids (methods.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import PruningMethod, Session, check
from asl.methods.sessions import GemFilterSession


@dataclass(frozen=True)
class GemFilter(PruningMethod):
    """Select k input ids at ``filter_layer`` and prefill them again with fresh positions 0..k-1."""

    name: str = "gemfilter"
    kv_budget: int = 2048
    filter_layer: int | None = None
    pool_kernel: int = 5
    force_tail: int = 0
    max_new_tokens_cap: int | None = None
    layer_keys = ("filter_layer",)

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        check(
            isinstance(self.kv_budget, int) and self.kv_budget >= 1,
            f"{self.name}: kv_budget must be a positive integer, got {self.kv_budget!r}",
        )
        check(
            isinstance(self.pool_kernel, int) and self.pool_kernel >= 1 and self.pool_kernel % 2 == 1,
            f"{self.name}: pool_kernel must be a positive odd integer, got {self.pool_kernel!r}",
        )
        check(
            isinstance(self.force_tail, int) and self.force_tail >= 0,
            f"{self.name}: force_tail must be >= 0, got {self.force_tail!r}",
        )
        check(
            self.max_new_tokens_cap is None or self.max_new_tokens_cap >= 1,
            f"{self.name}: max_new_tokens_cap must be null or >= 1, got {self.max_new_tokens_cap!r}",
        )

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        return GemFilterSession(
            num_layers, prompt_len, self.filter_layer, self.kv_budget, self.pool_kernel, self.force_tail
        )
