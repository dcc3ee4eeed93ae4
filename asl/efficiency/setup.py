"""Bench settings (configs/efficiency/default.yaml + CLI overrides) and model loading for the bench."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from asl.models import get_model_spec, load_model
from asl.models.embedded import checkpoint_dir
from asl.models.loading import resolve_attn_implementation, resolve_device, resolve_dtype
from asl.models.tiny import build_random_model

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "configs" / "efficiency" / "default.yaml"


@dataclass
class BenchSettings:
    """Everything one benchmark run needs (see configs/efficiency/default.yaml)."""

    model: str
    lengths: list[int]
    budgets: list[int]
    warmups: int
    repeats: int
    decode_steps: int
    methods: list[str]
    monitor_overhead: bool = True
    prompt: str = "niah"
    seed: int = 0
    phase_memory: bool = False
    weights: str = "pretrained"
    force_layer: int | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    out_dir: str | None = None
    profile: str = ""
    threads: int | None = None  # torch.set_num_threads (CPU); None keeps torch's default
    profile_ops: bool = False  # torch.profiler tables + per-layer times at the longest length

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for run metadata)."""
        return asdict(self)


def load_settings(
    model: str, profile: str | None = None, config_path: Path = DEFAULT_CONFIG, **overrides: Any
):
    """Merge the YAML defaults for ``model`` (and a profile) with non-None CLI overrides."""
    with Path(config_path).open() as fh:
        cfg = yaml.safe_load(fh)
    entry = dict(cfg.get("models", {}).get(model) or {})
    profile = profile or entry.pop("profile", None) or "cpu"
    entry.pop("profile", None)
    if profile not in cfg["profiles"]:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(cfg['profiles'])}")
    merged: dict[str, Any] = {
        k: cfg[k] for k in ("methods", "monitor_overhead", "prompt", "seed") if k in cfg
    }
    merged.update(cfg["profiles"][profile])
    merged.update(entry)
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return BenchSettings(model=model, profile=profile, **merged)


def fallback_tokenizer() -> Any | None:
    """The embedded SmolLM2 tokenizer when its cached checkpoint exists (text for tokenizer-less models)."""
    try:
        from transformers import AutoTokenizer

        path = checkpoint_dir(get_model_spec("smollm2_135m"))
        if not (path / "tokenizer_config.json").is_file():
            return None
        return AutoTokenizer.from_pretrained(str(path))
    except Exception:
        return None


def load_bench_model(s: BenchSettings) -> tuple[torch.nn.Module, Any | None]:
    """Load the registry model, or build its random-weight architecture in code (``weights: random``)."""
    if s.weights == "pretrained" or not s.arch:
        return load_model(s.model, device=s.device, dtype=s.dtype)
    spec = get_model_spec(s.model)
    dev = resolve_device(s.device)
    dtype = resolve_dtype(s.dtype or "auto", dev)
    attn = resolve_attn_implementation("auto", dev)
    with torch.device(dev):
        model = build_random_model(dict(s.arch), dtype=dtype)
    if hasattr(model, "set_attn_implementation"):
        try:
            model.set_attn_implementation(attn)
        except Exception:
            model.config._attn_implementation = attn
    else:
        model.config._attn_implementation = attn
    model = model.to(dev).eval()
    model.asl_spec = spec
    return model, None
