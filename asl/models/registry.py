"""Model registry: one YAML per model under ``configs/model/`` (the single source of the defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
MODEL_CONFIG_DIR = CONFIG_ROOT / "model"

# Relative depths used for models the paper does not cover (methods.md §8).
TSP_RELATIVE_DEPTH = 0.47
FILTER_RELATIVE_DEPTH = 0.41


@dataclass(frozen=True)
class ModelSpec:
    """Everything the harness needs to know about a model before loading it."""

    name: str
    source: str  # "embedded" | "hf" | "tiny"
    path: str
    dtype: str = "auto"
    attn_implementation: str = "auto"
    max_context: int | None = None
    num_layers: int | None = None
    stop_tokens: tuple[str, ...] = ()
    chat_template: bool = True
    trust_remote_code: bool = False
    method_defaults: dict[str, int] = field(default_factory=dict)
    gguf_package: str | None = None
    gguf_file: str | None = None
    tiny_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"model config {data.get('name')!r}: unknown keys {unknown}")
        data = dict(data)
        data["stop_tokens"] = tuple(data.get("stop_tokens") or ())
        data["method_defaults"] = dict(data.get("method_defaults") or {})
        data["tiny_config"] = dict(data.get("tiny_config") or {})
        return cls(**data)


def registry_names() -> list[str]:
    """Names of every model in ``configs/model``."""
    return sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.yaml"))


def get_model_spec(name: str) -> ModelSpec:
    """Return the registered spec for ``name`` (ValueError listing the registry if unknown)."""
    path = MODEL_CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(registry_names())}")
    with path.open() as fh:
        return ModelSpec.from_dict(yaml.safe_load(fh))


def spec_for_hf_path(name_or_path: str) -> ModelSpec:
    """An ad-hoc spec for an HF id or local path that is not in the registry."""
    return ModelSpec(name=Path(name_or_path).name or name_or_path, source="hf", path=name_or_path)


def relative_depth_defaults(num_layers: int) -> dict[str, int]:
    """Per-model method layers from the paper's relative depths (methods.md §8).

    L_min = floor(layers/3), FastKV TSP = round(0.47 * layers), GemFilter = round(0.41 * layers).
    """
    return {
        "l_min": num_layers // 3,
        "tsp_layer": int(math.floor(TSP_RELATIVE_DEPTH * num_layers + 0.5)),
        "filter_layer": int(math.floor(FILTER_RELATIVE_DEPTH * num_layers + 0.5)),
    }


def method_layer_defaults(spec: ModelSpec | None, num_layers: int) -> dict[str, int]:
    """Layer defaults for a model: its YAML ``method_defaults`` over the relative-depth rule."""
    defaults = relative_depth_defaults(num_layers)
    if spec is not None:
        defaults.update(spec.method_defaults)
    return defaults
