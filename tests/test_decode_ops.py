"""Issue 18 item 5: the lean static decode step (aten ops per layer in a CPU trace, tokens equal to eager)."""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate, load_model
from asl.engine.cache import PrunedKVCache
from asl.engine.op_count import (
    decode_op_counts,
    decode_ops_for_lengths,
    decode_ops_per_layer,
    synthetic_cache,
)
from tests.reference import random_prompt

OP_GOAL = 20


@pytest.mark.parametrize("name", ["tiny_llama", "tiny_qwen2"])
def test_lean_step_op_count(name):
    model, _ = load_model(name)
    layers = model.config.num_hidden_layers
    short = synthetic_cache(model, [100] * layers, decode_room=8)
    long = synthetic_cache(model, [300] * layers, decode_room=8)  # two split-K blocks
    lean = decode_op_counts(model, short)
    before = decode_op_counts(model, short, lean=False)
    assert lean.kind == "lean" and before.kind == "layers"
    assert max(lean.per_layer) <= OP_GOAL < 2 * OP_GOAL < min(before.per_layer)
    assert decode_ops_per_layer(model, long) <= OP_GOAL + 2  # split-K: a transposed copy and a sum
    assert decode_ops_for_lengths(model, [5000] * layers, 8) == decode_ops_per_layer(model, long)
    assert short.lengths == [100] * layers  # counting leaves the cache's lengths alone


@pytest.mark.parametrize("name", ["tiny_llama", "tiny_qwen2"])
@pytest.mark.parametrize("method", ["fullkv", "pyramidkv"])
def test_lean_step_split_k_equals_eager(name, method):
    """Buffers longer than one block (the split-K path) and per-layer lengths; tokens equal to eager."""
    model, _ = load_model(name)
    prompt = random_prompt(300, model.config.vocab_size, seed=31)[0]
    m = build_method(method, **({"kv_budget": 280, "window": 8} if method != "fullkv" else {}))
    runs = {
        mode: generate(model, None, prompt, m, 6, ignore_eos=True, decode_mode=mode)
        for mode in ("eager", "static")
    }
    assert runs["static"].token_ids == runs["eager"].token_ids
    assert "lean step" in runs["static"].decode_graph_status


def test_fused_weights_leave_the_model_unchanged():
    model, _ = load_model("tiny_qwen2")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.arange(40).view(1, -1)
    logits = model(ids).logits
    generate(model, None, ids[0], build_method("fullkv"), 3, ignore_eos=True, decode_mode="static")
    layer = model.model.layers[0].self_attn
    assert layer.k_proj.weight.data_ptr() == layer.q_proj.weight.data_ptr() + layer.q_proj.weight.nbytes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    torch.testing.assert_close(model(ids).logits, logits, rtol=0, atol=0)


def test_counting_rejects_nothing_on_unsupported_models():
    """A model the lean step cannot run falls back to HF's layers (counted the same way)."""
    model, _ = load_model("tiny_llama")
    model.config.hidden_act = "gelu"
    cache = PrunedKVCache(model.config.num_hidden_layers, decode_room=4, align=256)
    for layer in range(model.config.num_hidden_layers):
        cache.store(layer, torch.zeros(1, 2, 10, 16), torch.zeros(1, 2, 10, 16))
    assert decode_op_counts(model, cache).kind == "layers"


def test_lean_step_shares_one_attention_scratch_across_layers():
    """The layers run one after another, so their scores, probabilities and split-K partial sums are views
    of one request-wide scratch sized to the longest layer (the memory model's decode scratch), not one
    buffer per layer."""
    from asl.cost_model import ArchSpec, decode_scratch_bytes
    from asl.engine.static_decode import DECODE_BLOCK, StepState, build_step

    model, _ = load_model("tiny_llama")
    layers = model.config.num_hidden_layers
    cache = synthetic_cache(model, [100 + 300 * i for i in range(layers)], decode_room=8)
    state = StepState.create(cache, 0, max(cache.lengths), torch.device("cpu"))
    step = build_step(model, cache, state)
    assert step.kind == "lean" and any(plan.blocks > 1 for plan in step.layers)
    storages = {}
    for plan in step.layers:
        for name in ("scores", "probs", "blocked", "probs16", "partial"):
            if hasattr(plan, name):
                storage = getattr(plan, name).untyped_storage()
                storages.setdefault(name, {})[storage.data_ptr()] = storage.nbytes()
    assert all(len(found) == 1 for found in storages.values()), {k: len(v) for k, v in storages.items()}
    longest = max(k.shape[2] for k in cache.keys)
    scratch = sum(n for found in storages.values() for n in found.values())
    masks = step.bias.nbytes + step.unused.nbytes
    dtype_bytes = model.dtype.itemsize
    arch = ArchSpec.from_config(model.config)
    assert scratch + masks == decode_scratch_bytes(arch, longest, dtype_bytes, DECODE_BLOCK)
