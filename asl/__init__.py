"""ASL benchmark harness: layer-wise KV-cache token pruning on Hugging Face causal LMs.

Public API::

    from asl import load_model, build_method, generate
    model, tokenizer = load_model("smollm2_135m")
    method = build_method("asl", kv_budget=256, tau=0.3)
    result = generate(model, tokenizer, prompt_ids, method, max_new_tokens=16)
"""

from asl.models import load_model

__all__ = ["load_model", "build_method", "generate", "GenerationResult"]


def __getattr__(name: str):
    # The engine pulls in the method registry (which imports ``baselines``); load it on first use.
    if name in ("build_method", "generate", "GenerationResult"):
        from asl import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'asl' has no attribute {name!r}")
