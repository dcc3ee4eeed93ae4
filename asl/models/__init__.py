"""Model registry and loaders."""

from asl.models.loading import load_model, stop_token_ids
from asl.models.registry import ModelSpec, get_model_spec, method_layer_defaults, registry_names

__all__ = ["ModelSpec", "get_model_spec", "load_model", "method_layer_defaults", "registry_names", "stop_token_ids"]
