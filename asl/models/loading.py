"""``load_model``: a registry name or any HF id / local path -> (model, tokenizer)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
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


#: the oldest flash-attn whose causal mask is bottom-right aligned and that HF's wrapper supports
FLASH_MIN_VERSION = (2, 3, 3)


@dataclass(frozen=True)
class AttentionChoice:
    """The attention implementation chosen for a model and why (recorded with every result)."""

    implementation: str
    reason: str


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def flash_attn_status() -> tuple[bool, str]:
    """Whether flash-attn is usable as FlashAttention-2: it imports, is 2.x at or above 2.3.3 and has FA2's API.

    Imports the package (an installed build with a mismatched ABI fails here, not in the first prefill).
    """
    try:
        module = importlib.import_module("flash_attn")
    except ModuleNotFoundError:
        return False, "flash-attn is not installed"
    except Exception as exc:  # noqa: BLE001 - an ABI mismatch raises ImportError/OSError/RuntimeError
        first = (str(exc).splitlines() or [""])[0]
        return False, f"flash-attn does not import ({type(exc).__name__}: {first})"
    version = str(getattr(module, "__version__", "") or "")
    if not version:
        return False, "flash-attn has no __version__: not FlashAttention-2"
    parsed = _version_tuple(version)
    if parsed[:1] != (2,):
        return False, f"flash-attn {version} is not FlashAttention-2 (major version {parsed[0]})"
    if parsed < FLASH_MIN_VERSION:
        return False, f"flash-attn {version} is older than {'.'.join(map(str, FLASH_MIN_VERSION))}"
    if not callable(getattr(module, "flash_attn_func", None)):
        return False, f"flash-attn {version} lacks flash_attn_func: not FlashAttention-2's API"
    return True, f"flash-attn {version} imports"


def choose_attn_implementation(
    requested: str | None, device: torch.device, dtype: torch.dtype | None = None
) -> AttentionChoice:
    """``auto`` -> flash_attention_2 when flash-attn 2 (>= 2.3.3) imports on CUDA and the dtype is 16-bit,
    else sdpa, with the reason. An explicit request is honoured as given."""
    if requested not in (None, "auto"):
        return AttentionChoice(requested, "requested")
    if device.type != "cuda":
        return AttentionChoice("sdpa", f"auto on {device.type}: FlashAttention needs CUDA")
    if dtype is not None and dtype not in (torch.float16, torch.bfloat16):
        return AttentionChoice(
            "sdpa", f"auto: FlashAttention does not run {str(dtype).removeprefix('torch.')}"
        )
    ok, why = flash_attn_status()
    return AttentionChoice("flash_attention_2" if ok else "sdpa", f"auto: {why}")


def resolve_attn_implementation(
    requested: str | None, device: torch.device, dtype: torch.dtype | None = None
) -> str:
    """The implementation :func:`choose_attn_implementation` picks (without its reason)."""
    return choose_attn_implementation(requested, device, dtype).implementation


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
    ``model.asl_spec`` so the engine knows the stop tokens and the model's layer preset, and the attention
    choice (implementation and reason) as ``model.asl_attention_choice``.
    """
    spec = _resolve_spec(name_or_path)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype if dtype is not None else spec.dtype, dev)
    choice = choose_attn_implementation(attn_implementation or spec.attn_implementation, dev, torch_dtype)
    attn = choice.implementation
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
    model.asl_attention_choice = choice
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
