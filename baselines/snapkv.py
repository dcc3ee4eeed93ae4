"""SnapKV: per-KV-head KV compression after each layer's prefill attention (methods.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import PruningMethod, Session, check
from asl.methods.sessions import OnePassSession, SnapKVCompressor


@dataclass(frozen=True)
class WindowedMethod(PruningMethod):
    """Shared hyper-parameters of the window-scored methods (SnapKV, FastKV, ASL)."""

    kv_budget: int = 2048
    window: int = 32
    pool_kernel: int = 7

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        for key in ("kv_budget", "window", "pool_kernel"):
            value = getattr(self, key)
            check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"{self.name}: {key} must be a positive integer, got {value!r}",
            )
        check(
            self.kv_budget > self.window,
            f"{self.name}: kv_budget ({self.kv_budget}) must be larger than the window ({self.window})",
        )
        check(self.pool_kernel % 2 == 1, f"{self.name}: pool_kernel must be odd, got {self.pool_kernel}")


@dataclass(frozen=True)
class SnapKV(WindowedMethod):
    """Keep the top-(C - w) prefix entries plus the window per KV head, at every layer."""

    name: str = "snapkv"
    uncompressed_layers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "uncompressed_layers", tuple(self.uncompressed_layers or ()))

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        for layer in self.uncompressed_layers:
            check(
                isinstance(layer, int) and layer >= 0,
                f"{self.name}: uncompressed_layers must hold non-negative layer indices, got {layer!r}",
            )

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        compressor = SnapKVCompressor(self.kv_budget, self.window, self.uncompressed_layers)
        return OnePassSession(num_layers, prompt_len, self.window, self.pool_kernel, compressor=compressor)
