"""``load_model``: a registry name or any HF id / local path -> (model, tokenizer)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from asl.models.embedded import ensure_checkpoint
from asl.models.registry import ModelSpec, get_model_spec, registry_names, spec_for_hf_path
from asl.models.tiny import build_random_model

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | None) -> torch.device:
    """``None``/"auto" -> CUDA when available, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``auto`` -> bfloat16 on CUDA, float32 on CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of auto, {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


def resolve_attn_implementation(requested: str | None, device: torch.device) -> str:
    """``auto`` -> flash_attention_2 when flash-attn is importable on CUDA, else sdpa.

    flash-attn is only looked up (never imported) here, and only on CUDA.
    """
    if requested not in (None, "auto"):
        return requested
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def _resolve_spec(name_or_path: str | ModelSpec) -> ModelSpec:
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    if name_or_path in registry_names():
        return get_model_spec(name_or_path)
    looks_like_path = "/" in name_or_path or Path(name_or_path).exists()
    if not looks_like_path:
        raise ValueError(
            f"unknown model {name_or_path!r}; registered models: {', '.join(registry_names())} "
            "(or pass a Hugging Face id / local path)"
        )
    return spec_for_hf_path(name_or_path)


def load_model(
    name_or_path: str | ModelSpec,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    attn_implementation: str | None = None,
) -> tuple[PreTrainedModel, object | None]:
    """Load a registered model (``smollm2_135m``, ``llama31_8b_ul``, ...), any HF id / path, or a spec.

    The runner passes the :class:`ModelSpec` built from the composed ``model`` node, so a command-line
    override of the model (e.g. ``model.layer_preset=reference``) reaches the engine. Returns
    ``(model, tokenizer)``; tiny test models have no tokenizer (``None``). The spec is attached as
    ``model.asl_spec`` so the engine knows the stop tokens and the model's layer preset.
    """
    spec = _resolve_spec(name_or_path)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype if dtype is not None else spec.dtype, dev)
    attn = resolve_attn_implementation(attn_implementation or spec.attn_implementation, dev)
    if spec.source == "tiny":
        model = build_random_model(spec.random_config, dtype=torch_dtype)
        model.config._attn_implementation = attn
        tokenizer = None
    else:
        location = str(ensure_checkpoint(spec)) if spec.source == "embedded" else spec.path
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=spec.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            location,
            dtype=torch_dtype,
            attn_implementation=attn,
            trust_remote_code=spec.trust_remote_code,
        )
    model = model.to(dev).eval()
    model.asl_spec = spec
    return model, tokenizer


def stop_token_ids(model: PreTrainedModel, tokenizer: object | None) -> list[int]:
    """The model's stop tokens: its registry list plus the tokenizer / generation-config EOS ids."""
    ids: set[int] = set()
    spec: ModelSpec | None = getattr(model, "asl_spec", None)
    if tokenizer is not None:
        vocab = tokenizer.get_vocab()
        for token in spec.stop_tokens if spec else ():
            if token in vocab:
                ids.add(int(vocab[token]))
        if getattr(tokenizer, "eos_token_id", None) is not None:
            ids.add(int(tokenizer.eos_token_id))
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is not None:
        ids.update(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]))
    return sorted(ids)
