"""Model registry and loaders (the registry imports without torch; loaders on first use)."""

from __future__ import annotations

from importlib import import_module

from asl.models.registry import ModelSpec, get_model_spec, registry_names

_LAZY = {"load_model": "asl.models.loading", "stop_token_ids": "asl.models.loading"}

__all__ = [
    "ModelSpec",
    "get_model_spec",
    "load_model",
    "registry_names",
    "stop_token_ids",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'asl.models' has no attribute {name!r}")
