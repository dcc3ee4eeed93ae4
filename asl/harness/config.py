"""From the composed Hydra config to the run's identity: effective method settings, hash, run directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def to_plain(node: Any) -> Any:
    """A resolved plain-Python copy of an OmegaConf node (or the value itself)."""
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def cli_override_keys(task_overrides: Iterable[str]) -> set[str]:
    """Dotted keys set on the command line (``method.kv_budget=8`` -> ``method.kv_budget``)."""
    keys = set()
    for ov in task_overrides:
        key = ov.split("=", 1)[0].lstrip("+~")
        keys.add(key)
    return keys


def effective_method(cfg: DictConfig, cli_keys: set[str] | None = None) -> dict[str, Any]:
    """The method node with the model's ``method_defaults``, then ``method_overrides``, applied to the keys
    the method has.

    ``method_defaults`` (model YAML) is what a model suggests, e.g. a KV budget below the embedded model's
    1K-token prompts: it replaces only a value still equal to the method YAML's own default.
    ``method_overrides`` is an experiment-level setting (e.g. ``kv_budget: 256``). Both skip methods
    without the key (fullkv) and null values. An explicit ``method.KEY=`` on the command line wins.
    """
    method = dict(to_plain(cfg.method))
    cli_keys = cli_keys or set()
    model_defaults = to_plain((cfg.get("model") or {}).get("method_defaults")) or {}
    yaml_defaults = _method_yaml(str(method.get("name"))) if model_defaults else {}
    for key, value in model_defaults.items():
        if key in method and value is not None and f"method.{key}" not in cli_keys:
            if key in yaml_defaults and method[key] == yaml_defaults[key]:
                method[key] = value
    for key, value in (to_plain(cfg.get("method_overrides")) or {}).items():
        if key in method and value is not None and f"method.{key}" not in cli_keys:
            method[key] = value
    return method


def _method_yaml(name: str) -> dict[str, Any]:
    """The composed defaults of ``configs/method/NAME.yaml`` (empty for a method without one)."""
    from asl.config_groups import compose_node

    try:
        return compose_node("method", name)
    except ValueError:
        return {}


def resolve_run_method(cfg: DictConfig, cli_keys: set[str] | None = None) -> tuple[Any, Any]:
    """(ModelSpec, resolved PruningMethod) of a composed config (one-line HarnessError if invalid)."""
    from asl.harness.validation import HarnessError, one_line
    from asl.methods.registry import method_from_config
    from asl.models.registry import ModelSpec

    try:
        spec = ModelSpec.from_config(to_plain(cfg.model))
        method = method_from_config(effective_method(cfg, cli_keys), num_layers=spec.num_layers)
        if spec.num_layers is not None:
            method = method.resolved(spec.layer_defaults(), spec.num_layers)
    except (ValueError, TypeError) as exc:
        raise HarnessError(one_line(exc)) from exc
    return spec, method


#: model settings that can change a result, all in the run identity (a change never resumes or merges)
MODEL_SETTINGS = ("source", "path", "revision", "gguf_file", "dtype", "attn_implementation", "layer_preset",
                  "chat_template", "trust_remote_code")  # fmt: skip


def device_type(device: Any) -> str:
    """``cuda`` or ``cpu`` (or ``mps``...) of a ``device`` setting; null picks cuda when available."""
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device).split(":", 1)[0]


def model_settings(cfg: DictConfig) -> dict[str, Any]:
    """The model settings a run's predictions depend on: where the weights come from (path, revision, GGUF
    file), the dtype actually asked for (the run's ``dtype``, else the model YAML's), attention
    implementation, device type, layer preset and chat template."""
    model = to_plain(cfg.model) or {}
    out = {key: model.get(key) for key in MODEL_SETTINGS}
    if cfg.get("dtype") is not None:
        out["dtype"] = str(cfg.get("dtype"))
    out["device_type"] = device_type(cfg.get("device"))
    return out


def identity(cfg: DictConfig, method: dict[str, Any]) -> dict[str, Any]:
    """Everything that determines a run's predictions (the hashed part of the run directory): the model
    and its settings (:func:`model_settings`), the resolved method, the whole benchmark node (tasks, lengths,
    profile, haystack, data), the seed and the generation settings.

    ``method`` is the resolved method config (``PruningMethod.to_config()``), so a change of the model's
    layer preset or of ``model.layer_presets`` changes the hash exactly when it changes the method.
    """
    return {
        "model": str(cfg.model.name),
        "model_settings": model_settings(cfg),
        "method": method,
        "benchmark": to_plain(cfg.benchmark),
        "seed": int(cfg.seed),
        "generation": to_plain(cfg.get("generation")) or {},
    }


def config_hash(ident: dict[str, Any], length: int = 10) -> str:
    """Short stable hash of the run identity."""
    blob = json.dumps(ident, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def run_dir_for(results_dir: str | Path, ident: dict[str, Any]) -> Path:
    """``results_dir/<model>/<benchmark>/<method>-<hash>``: equal configs share it, distinct ones never do."""
    bench = ident["benchmark"].get("name", "benchmark")
    name = f"{ident['method']['name']}-{config_hash(ident)}"
    return Path(results_dir) / ident["model"] / str(bench) / name


def context_lengths(benchmark: dict[str, Any]) -> list[int]:
    """``benchmark.context_length`` as a list (it may be a single int, a list or null)."""
    value = to_plain(benchmark.get("context_length"))
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]
