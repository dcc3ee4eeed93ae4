"""The method protocol: hyper-parameters, what a method says about itself, and the per-request session.

A method is a small frozen dataclass of hyper-parameters (kvpress style). Its defaults live once, in
``configs/method/NAME.yaml``; the dataclass only declares the fields. For every request the engine asks it
for a fresh :class:`Session`, which answers, layer by layer during prefill:

* ``on_attention``: given this layer's post-RoPE queries/keys/values, which KV entries to cache
  (compression), and it may score tokens for selection (the window attention is computed once and shared);
* ``after_layer``: continue, propagate only a subset of hidden states to deeper layers (original
  positions), or stop here (two-pass methods: the selected input ids are re-run from scratch).

Everything else the harness needs to know about a method is asked of the method object, never switched on
its name: its display (label, colour, order), whether it is two-pass, which keys default per model and
how (``model_keys``), the KV entries it keeps per layer, and its ideal prefill FLOPs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch

from asl.cost_model import ArchSpec, full_prefill_flops
from asl.token_scoring import window_kv_scores


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
    #: True: ``on_attention`` gets every query of the layer and the layer runs HF's own forward (module
    #: hooks fire), unchunked; False (default): the queries of the last prefill chunk, and q/k/v are
    #: shared read-only with the other sessions of a shared prefill
    full_layer_inputs: ClassVar[bool] = False

    def __init__(self, num_layers: int, prompt_len: int):
        self.num_layers = num_layers
        self.prompt_len = prompt_len
        self.selection_layer: int | None = None
        self.rel_variance: dict[int, float] = {}

    def bind(self, model: Any) -> None:
        """Called once per request before the prefill, with the model. A session that must see the model's
        modules (a kvpress press reads the attention module and its input) registers request-scoped hooks
        here and removes them by ``finish``. No-op by default."""

    def on_attention(
        self, layer: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scaling: float
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Return the (key, value) entries to cache for this layer, or None to cache nothing."""
        return key, value

    def after_layer(self, layer: int) -> LayerAction:
        """Decide what happens after decoder layer ``layer`` has run."""
        return CONTINUE

    def on_decode_step(self, cache: Any, position: int) -> None:
        """Called after every decode step (eager decoding) with the engine's ``PrunedKVCache``, once the
        token fed at RoPE ``position`` has been appended at every layer: decode-time eviction (a method
        with ``decode_eviction = True``) edits the cache here. No-op by default."""

    @property
    def selection_fired(self) -> bool | None:
        """Whether the method's selection step chose a layer (None: this session selects nothing). A
        session whose rule can fall back without firing (ASL_2pass) overrides this."""
        return None if self.selection_layer is None else True

    def finish(self) -> None:
        """Called once after decoding (selectors publish their traces here)."""


@dataclass(frozen=True)
class Display:
    """How tables and figures show a method configuration."""

    label: str
    color: str
    marker: str
    dashed: bool = False
    order: int = 100


def relative_depth(fraction: float) -> Callable[[int], int]:
    """Default layer at ``round(fraction * layers)`` (methods.md §8, for models the paper does not cover)."""

    def policy(num_layers: int) -> int:
        return int(math.floor(fraction * num_layers + 0.5))

    policy.__doc__ = f"round({fraction} x layers)"
    return policy


@dataclass(frozen=True, kw_only=True)
class PruningMethod:
    """Base class: hyper-parameters, self-description, validation, per-model resolution, sessions."""

    name: str

    #: display name; subclasses may refine :meth:`display` (e.g. "(Full before)")
    display_name: ClassVar[str] = ""
    color: ClassVar[str] = "#444444"
    marker: ClassVar[str] = "x"
    order: ClassVar[int] = 100
    #: pass 1 selects input ids, pass 2 re-prefills them at positions 0..k-1 (decoding continues at k)
    two_pass: ClassVar[bool] = False
    #: False: its sessions run their own prefill even in a shared group (the cost model of sharing)
    shares_prefill: ClassVar[bool] = True
    #: keys whose ``None`` means "the model's value": the model YAML's layer preset, else this policy
    model_keys: ClassVar[Mapping[str, Callable[[int], Any]]] = {}
    #: keys that must be valid layer indices when set
    layer_keys: ClassVar[tuple[str, ...]] = ()
    #: its session evicts KV entries while decoding (``Session.on_decode_step``): the engine decodes eager
    decode_eviction: ClassVar[bool] = False
    #: the dict field that collects config keys the class does not declare (None: such keys are errors)
    extra_params_field: ClassVar[str | None] = None

    # -- self-description ---------------------------------------------------------------------------
    def display(self) -> Display:
        """Label, colour, marker and row order of this configuration."""
        return Display(self.display_name or self.name, self.color, self.marker, order=self.order)

    @property
    def label(self) -> str:
        """Display label (tables, figures)."""
        return self.display().label

    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        """Prompt KV entries each layer keeps after prefilling ``n`` tokens (the KV check's arithmetic)."""
        return [n] * num_layers

    def prefill_flops(self, arch: ArchSpec, n: int, selection_layer: int | None) -> int:
        """Ideal prefill FLOPs on an ``n``-token prompt (the cost model)."""
        return full_prefill_flops(arch, n)

    def layer_calls(self, num_layers: int, selection_layer: int | None) -> int:
        """Decoder-layer calls of one prefill (both passes for two-pass methods)."""
        return num_layers

    def trunk_layers(self, num_layers: int, n: int, selection_layer: int | None) -> int:
        """Full-token layers the prefill runs before this method leaves a shared trunk (all of them for a
        method that only shrinks its cache): the cost model of a shared prefill."""
        return num_layers

    def planned_layer(self) -> int | None:
        """The selection layer this configuration fixes in advance (None: none, or the prompt decides);
        predictions use it where no run has reported a layer."""
        return None

    def overhead_reference(self, layer: int | None) -> tuple[str, dict[str, Any]] | None:
        """(method name, overrides) doing this configuration's layer work without its selection rule, when
        it has one (the efficiency bench measures the rule's monitoring overhead against it)."""
        return None

    # -- parameters ----------------------------------------------------------------------------------
    def validate(self, num_layers: int | None = None) -> None:
        """Raise ValueError (one line) for an invalid hyper-parameter."""
        for key in self.layer_keys:
            value = getattr(self, key)
            if value is None:
                continue
            check_int(self, key, value, minimum=0, what="a non-negative layer index")
            if num_layers is not None and value >= num_layers:
                raise ValueError(
                    f"{self.name}: {key}={value} is beyond the model's {num_layers} layers (0..{num_layers - 1})"
                )

    def resolved(self, preset: Mapping[str, Any], num_layers: int) -> PruningMethod:
        """A copy whose unset model keys come from ``preset`` (the model's layer preset), else the policy."""
        updates = {
            key: preset[key] if key in preset else policy(num_layers)
            for key, policy in self.model_keys.items()
            if getattr(self, key) is None
        }
        method = dataclasses.replace(self, **updates) if updates else self
        method.validate(num_layers)
        return method

    def is_resolved(self) -> bool:
        """True when every model key has a value."""
        return all(getattr(self, key) is not None for key in self.model_keys)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict hyper-parameters (what results files record)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_config(self) -> dict[str, Any]:
        """The method node that rebuilds this object (``_target_`` + hyper-parameters)."""
        cls = type(self)
        return {"_target_": f"{cls.__module__}.{cls.__qualname__}", **self.to_dict()}

    def max_new_tokens(self, requested: int) -> int:
        """Generation length (methods with an opt-in reference cap override this)."""
        return requested

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        """A fresh per-request session."""
        raise NotImplementedError


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def check(condition: bool, message: str) -> None:
    """Raise a one-line ValueError unless ``condition``."""
    if not condition:
        raise ValueError(message)


def check_int(method: PruningMethod, key: str, value: Any, minimum: int = 1, what: str = "") -> None:
    """``value`` must be an int (not a bool) >= ``minimum``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    check(ok, f"{method.name}: {key} must be {what or f'an integer >= {minimum}'}, got {value!r}")


def check_cap(method: PruningMethod, cap: Any) -> None:
    """An opt-in generation cap is null or a positive integer."""
    check(
        cap is None or (isinstance(cap, int) and not isinstance(cap, bool) and cap >= 1),
        f"{method.name}: max_new_tokens_cap must be null or >= 1, got {cap!r}",
    )


def reference_cap(requested: int, cap: int | None) -> int:
    """[ref]'s two-pass greedy loop: the first token plus ``cap`` loop steps, i.e. at most cap + 1 tokens."""
    return requested if cap is None else min(requested, cap + 1)
