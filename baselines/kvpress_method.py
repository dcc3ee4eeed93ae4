"""Any supported kvpress press as a method: ``method=kvpress method.press=KnormPress +method.<kwarg>=...``.

The harness's ``kv_budget`` C becomes the press's compression per prompt (it keeps C entries per layer and
KV head, like SnapKV), or ``compression_ratio`` uses the press's own ratio. Keys the YAML does not declare
are the press's own keywords (``+method.window_size=64``); ``inner`` names the scorer press a wrapper
press wraps. Support table and reasons: ``baselines/kvpress_support.py`` and docs/kvpress.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from asl.methods.base import Display, PruningMethod, Session, check
from baselines.kvpress_session import PressSession
from baselines.kvpress_support import (
    OWN,
    WRAPPER,
    PressError,
    press_class,
    press_color,
    press_fields,
    press_kind,
    press_label,
    press_order,
)

#: wrapper presses whose compress rejects an attention matrix
_NO_ATTENTIONS = ("ChunkPress", "ChunkKVPress", "EntropyGatedChunkKVPress", "BlockPress")


@dataclass(frozen=True, kw_only=True)
class KVPress(PruningMethod):
    """A kvpress press called inside the engine's prefill, where the SnapKV family compresses."""

    #: its session needs HF's own layer forward (kvpress's score hooks): it runs its own prefill
    shares_prefill: ClassVar[bool] = False

    press: str
    kv_budget: int | None
    compression_ratio: float | None
    press_kwargs: dict[str, Any] = field(default_factory=dict)

    extra_params_field = "press_kwargs"
    marker = "P"

    def __post_init__(self) -> None:
        object.__setattr__(self, "press_kwargs", dict(self.press_kwargs or {}))

    # -- display -------------------------------------------------------------------------------------
    def display(self) -> Display:
        return Display(
            press_label(self.press), press_color(self.press), self.marker, order=press_order(self.press)
        )

    # -- parameters ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "press_kwargs"}
        return {**out, **{key: _plain(value) for key, value in sorted(self.press_kwargs.items())}}

    @property
    def kind(self) -> str:
        return press_kind(self.press)

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        try:
            kind = self.kind
            self._check_kwargs(kind)
            if kind != OWN:
                check(
                    (self.kv_budget is None) != (self.compression_ratio is None),
                    f"{self.name}: set exactly one of kv_budget and compression_ratio "
                    f"(got {self.kv_budget!r} and {self.compression_ratio!r})",
                )
            if self.kv_budget is not None:
                check(
                    isinstance(self.kv_budget, int)
                    and not isinstance(self.kv_budget, bool)
                    and self.kv_budget >= 1,
                    f"{self.name}: kv_budget must be a positive integer, got {self.kv_budget!r}",
                )
            if self.compression_ratio is not None:
                check(
                    isinstance(self.compression_ratio, (int, float)) and 0 <= self.compression_ratio < 1,
                    f"{self.name}: compression_ratio must be in [0, 1), got {self.compression_ratio!r}",
                )
            self.build_press()
        except PressError as exc:
            raise ValueError(f"{self.name}: {exc}") from None

    def _check_kwargs(self, kind: str) -> None:
        valid = set(press_fields(self.press)) - {"compression_ratio", "press"}
        if kind == WRAPPER:
            valid.add("inner")
        unknown = sorted(set(self.press_kwargs) - valid)
        if unknown:
            raise PressError(
                f"{self.press} has no keyword {', '.join(unknown)}; its keywords: {', '.join(sorted(valid)) or 'none'}"
            )
        if kind == WRAPPER:
            inner = self.press_kwargs.get("inner")
            if inner is None:
                raise PressError(f"{self.press} wraps a scorer press: set +method.inner=<PressClass>")
            if press_kind(str(inner)) != "scorer":
                raise PressError(f"{self.press} wraps a scorer press; {inner} is not one")
            if self.press in _NO_ATTENTIONS and inner == "ObservedAttentionPress":
                raise PressError(f"{self.press} does not accept an attention matrix (ObservedAttentionPress)")

    def build_press(self) -> Any:
        """A fresh press object (presses keep per-request state, so every request gets its own)."""
        kwargs = dict(self.press_kwargs)
        if self.kind == WRAPPER:
            kwargs["press"] = press_class(str(kwargs.pop("inner")))()
        try:
            return press_class(self.press)(**kwargs)
        except (AssertionError, TypeError, ValueError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PressError(f"{self.press}({_kwargs_text(kwargs)}) is invalid: {message}") from None

    def needs_attentions(self) -> bool:
        """Whether the scoring press reads the eager attention matrix (ObservedAttentionPress)."""
        scorer = self.press_kwargs.get("inner") if self.kind == WRAPPER else self.press
        return scorer == "ObservedAttentionPress"

    # -- self-description --------------------------------------------------------------------------------
    def kv_lengths(self, n: int, num_layers: int, selection_layer: int | None) -> list[int]:
        """C per layer for budgeted presses (PyramidKVPress and the chunked wrappers deviate per layer:
        the engine records the real lengths); every entry for the presses that decide themselves."""
        if self.kind == OWN:
            return [n] * num_layers
        if self.kv_budget is not None:
            return [min(self.kv_budget, n)] * num_layers
        return [max(1, int(n * (1 - self.compression_ratio)))] * num_layers

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        return PressSession(
            num_layers,
            prompt_len,
            self.build_press(),
            self.kind,
            self.kv_budget,
            self.compression_ratio,
            self.needs_attentions(),
        )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in kwargs.items() if key != "press")
