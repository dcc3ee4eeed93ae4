"""ASL (one pass) and ASL_2pass: the adaptive selection layer by relative rank variance (methods.md §5-§6)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import PruningMethod, Session, check
from asl.methods.selectors import AdaptiveLayerSelector
from asl.methods.sessions import OnePassSession, TwoPassASLSession
from baselines.fastkv import PropagatingMethod
from baselines.snapkv import WindowedMethod


def _check_rule(method: PruningMethod) -> None:
    tau, l_obs = method.tau, method.l_obs
    check(
        isinstance(tau, (int, float)) and not isinstance(tau, bool) and 0.0 < tau <= 1.0,
        f"{method.name}: tau must be in (0, 1], got {tau!r}",
    )
    check(
        isinstance(l_obs, int) and not isinstance(l_obs, bool) and l_obs >= 1,
        f"{method.name}: l_obs must be a positive integer, got {l_obs!r}",
    )


@dataclass(frozen=True)
class ASL(PropagatingMethod):
    """Select the propagation layer per request, then continue exactly as FastKV at that layer."""

    name: str = "asl"
    tau: float = 0.3
    l_min: int | None = None
    l_obs: int = 8
    force_layer: int | None = None
    layer_keys = ("l_min",)
    optional_layer_keys = ("force_layer",)

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        _check_rule(self)

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        selector = AdaptiveLayerSelector(
            self.tau, self.l_min, self.l_obs, self.num_keep, self.window, self.force_layer
        )
        return OnePassSession(
            num_layers, prompt_len, self.window, self.pool_kernel, self.compressor(), selector
        )


@dataclass(frozen=True)
class ASL2Pass(WindowedMethod):
    """ASL's rule picks layer and tokens in a KV-less first pass; the tokens are re-run from scratch."""

    name: str = "asl_2pass"
    tau: float = 0.3
    l_min: int | None = None
    l_obs: int = 8
    force_layer: int | None = None
    max_new_tokens_cap: int | None = None
    layer_keys = ("l_min",)
    optional_layer_keys = ("force_layer",)

    def validate(self, num_layers: int | None = None) -> None:
        super().validate(num_layers)
        _check_rule(self)
        check(
            self.max_new_tokens_cap is None or self.max_new_tokens_cap >= 1,
            f"{self.name}: max_new_tokens_cap must be null or >= 1, got {self.max_new_tokens_cap!r}",
        )

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        selector = AdaptiveLayerSelector(
            self.tau, self.l_min, self.l_obs, self.kv_budget, self.window, self.force_layer
        )
        return TwoPassASLSession(num_layers, prompt_len, self.window, self.pool_kernel, selector)
