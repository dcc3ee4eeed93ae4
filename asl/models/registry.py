"""Model registry: one YAML per model under ``configs/model/`` (the single source of its settings).

A model YAML may name *layer presets*: the values the layer-dependent method keys (L_min, FastKV's TSP
layer, GemFilter's filter layer, SnapKV's uncompressed layers) take on that model. ``layer_preset`` picks
one; keys a preset does not set fall back to the method's own relative-depth policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asl.config_groups import compose_node, group_choices


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
    layer_preset: str | None = None
    layer_presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    gguf_package: str | None = None
    gguf_file: str | None = None
    random_config: dict[str, Any] = field(default_factory=dict)
    #: method keys this model suggests (e.g. a KV budget below its default prompts); applied to methods
    #: with the key, below the experiment's method_overrides and the command line
    method_defaults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ModelSpec:
        """Build from a (composed) model node; one-line ValueError for unknown keys or presets."""
        data = dict(node)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"model config {data.get('name')!r}: unknown keys {unknown}")
        data["stop_tokens"] = tuple(data.get("stop_tokens") or ())
        data["layer_presets"] = {k: dict(v or {}) for k, v in (data.get("layer_presets") or {}).items()}
        data["random_config"] = dict(data.get("random_config") or {})
        data["method_defaults"] = dict(data.get("method_defaults") or {})
        spec = cls(**data)
        spec.layer_defaults()  # an unknown preset fails here, before anything runs
        return spec

    def layer_defaults(self) -> dict[str, Any]:
        """The active layer preset (empty when the model names none: every key uses its method's policy)."""
        if self.layer_preset is None:
            return {}
        if self.layer_preset not in self.layer_presets:
            choices = ", ".join(sorted(self.layer_presets)) or "none defined"
            raise ValueError(
                f"model {self.name}: unknown layer_preset {self.layer_preset!r}; choose one of: {choices}"
            )
        return dict(self.layer_presets[self.layer_preset])


def registry_names() -> list[str]:
    """Names of every model in ``configs/model``."""
    return group_choices("model")


def get_model_spec(name: str) -> ModelSpec:
    """The registered spec for ``name``, composed from its YAML (ValueError listing the registry if unknown)."""
    try:
        node = compose_node("model", name)
    except ValueError:
        raise ValueError(
            f"unknown model {name!r}; registered models: {', '.join(registry_names())}"
        ) from None
    return ModelSpec.from_config(node)


def spec_for_hf_path(name_or_path: str) -> ModelSpec:
    """An ad-hoc spec for an HF id or local path that is not in the registry."""
    return ModelSpec(name=Path(name_or_path).name or name_or_path, source="hf", path=name_or_path)
