"""Bench settings from the composed ``configs/bench.yaml`` (+ Hydra overrides), and the bench model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from asl.engine.chunking import DEFAULT_MLP_CHUNK, check_chunk
from asl.engine.decoding import DECODE_MODES
from asl.methods.registry import list_methods
from asl.models import ModelSpec, get_model_spec, load_model
from asl.models.embedded import checkpoint_dir
from asl.models.loading import choose_attn_implementation, resolve_device, resolve_dtype
from asl.models.tiny import build_random_model
from asl.paths import REPO_ROOT

PROFILE_KEYS = ("lengths", "budgets", "warmups", "repeats", "decode_steps", "threads", "predict_lengths")


@dataclass
class BenchSettings:
    """Everything one benchmark run needs (see configs/bench.yaml)."""

    spec: ModelSpec
    lengths: list[int]
    budgets: list[int]
    warmups: int
    repeats: int
    decode_steps: int
    methods: list[str]
    monitor_overhead: bool = True
    prompt: str = "niah"
    seed: int = 0
    weights: str = "pretrained"
    force_layer: int | None = None
    device: str | None = None
    dtype: str | None = None
    out_dir: str | None = None
    profile: str = ""
    threads: int | None = None  # torch.set_num_threads (CPU); None keeps torch's default
    profile_ops: bool = False  # torch.profiler tables + per-layer times at the longest length
    decode_mode: str | None = None  # generate()'s: None = static on CUDA, eager elsewhere
    mlp_chunk: int | None = DEFAULT_MLP_CHUNK  # tokens per prefill MLP chunk (None/0: unchunked)
    predict_lengths: list[int] = field(default_factory=list)  # predict=true: the lengths of predict.md
    reference_device: dict[str, Any] = field(default_factory=dict)  # predict=true: the assumed device
    prefill_efficiency: float = 0.68  # predicted TTFT = ideal FLOPs / (matmul rate x this)

    @property
    def model(self) -> str:
        """The model's registry name."""
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for run metadata)."""
        out = asdict(self)
        out["spec"] = self.spec.name
        return out


def settings_from_config(cfg: Any) -> BenchSettings:
    """The composed bench config -> settings: the profile's values under any explicit (non-null) key."""
    spec = ModelSpec.from_config(cfg["model"])
    entry = dict(cfg["models"].get(spec.name) or {})
    profile = cfg.get("profile") or entry.get("profile") or "cpu"
    if profile not in cfg["profiles"]:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(cfg['profiles'])}")
    merged = {**dict(cfg["profiles"][profile])}
    for key in ("weights", "force_layer"):
        merged[key] = entry.get(key)
    for key in (*PROFILE_KEYS, "weights", "force_layer"):
        if cfg.get(key) is not None:
            merged[key] = cfg[key]
    methods = cfg.get("methods")
    names = list_methods() if methods in (None, "all") else [str(m) for m in methods]
    unknown = sorted(set(names) - set(list_methods()))
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from: {', '.join(list_methods())}")
    if cfg.get("decode_mode") not in (None, *DECODE_MODES):
        raise ValueError(
            f"decode_mode must be null or one of {', '.join(DECODE_MODES)}, got {cfg['decode_mode']!r}"
        )
    check_chunk(cfg.get("mlp_chunk"))
    if merged.get("weights") == "random" and not spec.random_config:
        raise ValueError(f"weights=random needs random_config in configs/model/{spec.name}.yaml")
    return BenchSettings(
        spec=spec,
        methods=names,
        profile=profile,
        weights=merged.pop("weights") or "pretrained",
        monitor_overhead=bool(cfg.get("monitor_overhead", True)),
        prompt=str(cfg.get("prompt", "niah")),
        seed=int(cfg.get("seed", 0)),
        device=cfg.get("device"),
        dtype=cfg.get("dtype"),
        out_dir=cfg.get("out_dir"),
        profile_ops=bool(cfg.get("profile_ops", False)),
        decode_mode=cfg.get("decode_mode"),
        mlp_chunk=cfg.get("mlp_chunk", DEFAULT_MLP_CHUNK),
        reference_device=dict(cfg.get("reference_device") or {}),
        prefill_efficiency=float(cfg.get("prefill_efficiency", 0.68)),
        **merged,
    )


def result_dir(s: BenchSettings) -> Path:
    """results/efficiency/<model>[-random]/ unless ``out_dir`` is set."""
    if s.out_dir:
        return Path(s.out_dir)
    suffix = "-random" if s.weights == "random" and s.spec.source != "tiny" else ""
    return REPO_ROOT / "results" / "efficiency" / f"{s.model}{suffix}"


def fallback_tokenizer() -> Any | None:
    """The embedded SmolLM2 tokenizer when its cached checkpoint exists (text for tokenizer-less models)."""
    try:
        from transformers import AutoTokenizer

        path = checkpoint_dir(get_model_spec("smollm2_135m"))
        if not (path / "tokenizer_config.json").is_file():
            return None
        return AutoTokenizer.from_pretrained(str(path))
    except Exception:  # noqa: BLE001 - any failure means: no fallback tokenizer
        return None


def load_bench_model(s: BenchSettings) -> tuple[torch.nn.Module, Any | None]:
    """Load the model, or build its random-weight architecture in code (``weights: random``)."""
    if s.weights != "random" or s.spec.source == "tiny":
        return load_model(s.spec, device=s.device, dtype=s.dtype)
    dev = resolve_device(s.device)
    dtype = resolve_dtype(s.dtype or "auto", dev)
    choice = choose_attn_implementation("auto", dev, dtype)
    with torch.device(dev):
        model = build_random_model(dict(s.spec.random_config), dtype=dtype)
    model.config._attn_implementation = choice.implementation
    model = model.to(dev).eval()
    model.asl_spec = s.spec
    model.asl_attention_choice = choice
    return model, None
