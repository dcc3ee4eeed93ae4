"""``build_method``: method name + overrides -> a validated method object, defaults from configs/method/*.yaml."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from asl.methods.adaptive import ASL, ASL2Pass
from asl.methods.base import PruningMethod
from asl.models.registry import CONFIG_ROOT
from baselines import FastKV, FullKV, GemFilter, SnapKV

METHOD_CONFIG_DIR = CONFIG_ROOT / "method"
METHOD_CLASSES: dict[str, type[PruningMethod]] = {
    "fullkv": FullKV,
    "snapkv": SnapKV,
    "gemfilter": GemFilter,
    "fastkv": FastKV,
    "fastkv_fullbefore": FastKV,
    "asl": ASL,
    "asl_fullbefore": ASL,
    "asl_2pass": ASL2Pass,
}


def method_names() -> list[str]:
    """All registered method names."""
    return sorted(METHOD_CLASSES)


def method_defaults(name: str) -> dict[str, Any]:
    """The defaults of configs/method/NAME.yaml, following its Hydra ``defaults`` list."""
    path = METHOD_CONFIG_DIR / f"{name}.yaml"
    with Path(path).open() as fh:
        data = yaml.safe_load(fh) or {}
    merged: dict[str, Any] = {}
    for base in data.pop("defaults", []) or []:
        if base != "_self_":
            merged.update(method_defaults(str(base)))
    merged.update(data)
    return merged


def build_method(name: str, num_layers: int | None = None, **overrides: Any) -> PruningMethod:
    """Build method ``name`` from its YAML defaults plus ``overrides`` (the same keys as the YAML).

    Raises ValueError with a one-line message for an unknown name or key, or an invalid value.
    ``num_layers`` additionally checks layer indices against the model depth.
    """
    if name not in METHOD_CLASSES:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(method_names())}")
    cls = METHOD_CLASSES[name]
    params = method_defaults(name)
    params.update(overrides)
    params["name"] = name
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    method = cls(**params)
    method.validate(num_layers)
    return method
