"""Method objects and the per-request session protocol the engine drives.

A method is a small frozen dataclass of hyper-parameters (kvpress style). For every request the engine
asks it for a fresh :class:`Session`, which answers, layer by layer during prefill:

* ``on_attention``: given this layer's post-RoPE queries/keys/values, which KV entries to cache
  (compression), and it may score tokens for selection (the window attention is computed once and shared);
* ``after_layer``: continue, propagate only a subset of hidden states to deeper layers (original
  positions), or stop here (two-pass methods: the selected input ids are re-run from scratch).

All per-request state (ranks, reference variance, selection) lives in the session, never in the model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch

from asl.scoring import window_kv_scores


@dataclass(frozen=True)
class LayerAction:
    """What the engine does after a decoder layer: continue, keep a subset, or stop (two-pass)."""

    keep: torch.Tensor | None = None  # ascending token indices (into the current sequence) to propagate
    stop: bool = False  # two-pass: end pass 1 here; ``keep`` then indexes the original prompt


CONTINUE = LayerAction()


class LayerScores:
    """Lazily computed, shared per-layer window scores (computed at most once per layer)."""

    def __init__(self, query: torch.Tensor, key: torch.Tensor, window: int, pool_kernel: int, scaling: float):
        self.query, self.key = query, key
        self.window, self.pool_kernel, self.scaling = window, pool_kernel, scaling

    @cached_property
    def kv_scores(self) -> torch.Tensor:
        """S_kv: [H_kv, T - window]."""
        return window_kv_scores(self.query, self.key, self.window, self.pool_kernel, self.scaling)

    @cached_property
    def token_scores(self) -> torch.Tensor:
        """s: [T - window], summed over all heads."""
        return self.kv_scores.sum(dim=0)


class Session:
    """Per-request state and decisions; subclasses override the hooks they need."""

    #: two-pass sessions cache nothing in pass 1 and end it with ``LayerAction(stop=True)``
    two_pass: ClassVar[bool] = False

    def __init__(self, num_layers: int, prompt_len: int):
        self.num_layers = num_layers
        self.prompt_len = prompt_len
        self.selection_layer: int | None = None
        self.rel_variance: dict[int, float] = {}

    def on_attention(
        self, layer: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scaling: float
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Return the (key, value) entries to cache for this layer, or None to cache nothing."""
        return key, value

    def after_layer(self, layer: int) -> LayerAction:
        """Decide what happens after decoder layer ``layer`` has run."""
        return CONTINUE


@dataclass(frozen=True)
class PruningMethod:
    """Base class: hyper-parameters plus validation, resolution and the session factory."""

    name: str
    #: keys whose ``None`` means "use the model's default layer" (configs/model/*.yaml method_defaults)
    layer_keys: ClassVar[tuple[str, ...]] = ()
    #: keys that must be valid layer indices when set
    optional_layer_keys: ClassVar[tuple[str, ...]] = ()

    def validate(self, num_layers: int | None = None) -> None:
        """Raise ValueError (one line) for an invalid hyper-parameter."""
        for key in self.layer_keys + self.optional_layer_keys:
            value = getattr(self, key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{self.name}: {key} must be a non-negative layer index, got {value!r}")
            if num_layers is not None and value >= num_layers:
                raise ValueError(
                    f"{self.name}: {key}={value} is beyond the model's {num_layers} layers (0..{num_layers - 1})"
                )

    def resolved(self, layer_defaults: dict[str, int], num_layers: int) -> PruningMethod:
        """A copy with unset layer keys taken from ``layer_defaults``, validated against ``num_layers``."""
        updates = {k: layer_defaults[k] for k in self.layer_keys if getattr(self, k) is None}
        method = dataclasses.replace(self, **updates) if updates else self
        method.validate(num_layers)
        return method

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict hyper-parameters (what results files record)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def max_new_tokens(self, requested: int) -> int:
        """Generation length after any opt-in reference cap."""
        cap = getattr(self, "max_new_tokens_cap", None)
        return min(requested, cap) if cap else requested

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        """A fresh per-request session."""
        raise NotImplementedError


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def check(condition: bool, message: str) -> None:
    """Raise a one-line ValueError unless ``condition``."""
    if not condition:
        raise ValueError(message)
