"""SnapKV specifics (kept entries and decoding against naive references: tests/test_engine_kv_compression.py)."""

from __future__ import annotations

import torch

from asl import build_method, generate
from asl.engine import trace_prefill
from tests.reference import random_prompt

BUDGET, WINDOW = 48, 8


def test_snapkv_keeps_budget_per_layer_and_kv_head(tiny_model):
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=7)
    trace = trace_prefill(tiny_model, prompt, build_method("snapkv", kv_budget=BUDGET, window=WINDOW))
    config = tiny_model.config
    for layer, keys in enumerate(trace.cache.keys):
        assert trace.cache.prompt_lengths[layer] == BUDGET
        # GQA-native: one entry per KV head, never repeated to the query heads
        assert keys.shape[1] == config.num_key_value_heads
        assert keys.shape[3] == config.head_dim


def test_snapkv_uncompressed_layers_and_decode(tiny_llama):
    prompt = random_prompt(120, 512, seed=9)[0]
    method = build_method("snapkv", kv_budget=BUDGET, window=WINDOW, uncompressed_layers=[0, 1])
    result = generate(tiny_llama, None, prompt, method, max_new_tokens=5, ignore_eos=True)
    assert result.kv_lengths == [120, 120] + [BUDGET] * 6
    head_dim, kv_heads = 16, 2
    assert result.kv_cache_bytes == sum(result.kv_lengths) * kv_heads * head_dim * 2 * 4


def test_snapkv_prefill_logits_equal_fullkv(tiny_model):
    """Compression only changes what decoding sees: the first token's logits are FullKV's."""
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=10)
    full = trace_prefill(tiny_model, prompt, build_method("fullkv"))
    snap = trace_prefill(tiny_model, prompt, build_method("snapkv", kv_budget=BUDGET, window=WINDOW))
    torch.testing.assert_close(snap.logits, full.logits)
