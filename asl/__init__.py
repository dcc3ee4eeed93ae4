"""ASL benchmark harness: layer-wise KV-cache token pruning on Hugging Face causal LMs.

Public API::

    from asl import load_model, build_method, generate
    model, tokenizer = load_model("smollm2_135m")
    method = build_method("asl", kv_budget=256, tau=0.3)
    result = generate(model, tokenizer, prompt_ids, method, max_new_tokens=16)

    import asl
    out = asl.evaluate(model="smollm2_135m", method="asl", benchmark="infinitebench_embedded", num_samples=2)
    print(out["table"])            # per task: accuracy [95% interval], n, fire rate, TTFT, TPOT
    asl.list_methods(), asl.list_benchmarks()

Attributes are imported on first use, so ``import asl`` (and CLI error paths) stay fast.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "load_model": "asl.models.loading",
    "build_method": "asl.methods.registry",
    "list_methods": "asl.methods.registry",
    "evaluate": "asl.harness.api",
    "list_benchmarks": "asl.harness.api",
    "generate": "asl.engine.generate",
    "generate_many": "asl.engine.generate",
    "GenerationResult": "asl.engine.generate",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'asl' has no attribute {name!r}")
