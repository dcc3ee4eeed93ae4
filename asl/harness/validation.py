"""Checks run before anything is created on disk; each failure is one line (HarnessError)."""

from __future__ import annotations

from typing import Any

from asl.harness.config import context_lengths


class HarnessError(ValueError):
    """Bad run configuration; the message is one line for the user."""


WANDB_MODES = ("offline", "online", "disabled")
KV_BEFORE = ("snapkv", "full")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_method(method: dict[str, Any], num_layers: int | None) -> None:
    """Value checks on the effective method settings (the engine re-checks in ``build_method``)."""
    name = method.get("name")
    tau = method.get("tau")
    if tau is not None and not (isinstance(tau, (int, float)) and 0 < tau <= 1):
        raise HarnessError(f"method {name}: tau must be in (0, 1], got {tau!r}")
    budget = method.get("kv_budget")
    if budget is not None:
        if not _is_int(budget) or budget < 1:
            raise HarnessError(f"method {name}: kv_budget must be a positive integer, got {budget!r}")
        window = method.get("window")
        if _is_int(window) and budget <= window:
            raise HarnessError(
                f"method {name}: kv_budget {budget} must exceed the observation window {window}"
            )
    kv_before = method.get("kv_before")
    if kv_before is not None and kv_before not in KV_BEFORE:
        raise HarnessError(
            f"method {name}: kv_before must be one of {', '.join(KV_BEFORE)}, got {kv_before!r}"
        )
    if num_layers is None:
        return
    for key in ("l_min", "tsp_layer", "filter_layer", "force_layer"):
        value = method.get(key)
        if value is None:
            continue
        if not _is_int(value) or not 0 <= value < num_layers:
            raise HarnessError(
                f"method {name}: {key}={value!r} is outside the model's layers 0..{num_layers - 1}"
            )


def validate_run(cfg: Any, method: dict[str, Any]) -> None:
    """Static checks of the composed config against the model spec (no model loaded)."""
    model = cfg.model
    bench = cfg.benchmark
    n = bench.get("num_samples")
    if n is not None and (not _is_int(n) or n < 1):
        raise HarnessError(f"benchmark.num_samples must be >= 1, got {n!r}")
    max_ctx = model.get("max_context")
    for length in context_lengths(bench):
        if length < 1:
            raise HarnessError(f"benchmark.context_length must be positive, got {length}")
        if max_ctx is not None and length > int(max_ctx):
            raise HarnessError(
                f"benchmark.context_length {length} exceeds {model.name}'s maximum context {int(max_ctx)}"
            )
    validate_method(method, model.get("num_layers"))
    mode = cfg.logger.wandb.mode
    if mode not in WANDB_MODES:
        raise HarnessError(f"logger.wandb.mode must be one of {', '.join(WANDB_MODES)}, got {mode!r}")
    if cfg.seed is None or not _is_int(cfg.seed):
        raise HarnessError(f"seed must be an integer, got {cfg.seed!r}")


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception message."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
