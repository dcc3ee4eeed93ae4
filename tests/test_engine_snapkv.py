"""SnapKV: cache lengths, GQA-native shapes, and kept entries against a naive eager-attention computation."""

from __future__ import annotations

import torch

from asl import build_method, generate
from asl.engine import trace_prefill
from tests.reference import (
    attention_probs,
    masked_decode_greedy,
    naive_keep,
    naive_kv_scores,
    prompt_keys,
    random_prompt,
)

BUDGET, WINDOW, KERNEL = 48, 8, 7


def test_snapkv_keeps_budget_per_layer_and_kv_head(tiny_model):
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=7)
    trace = trace_prefill(tiny_model, prompt, build_method("snapkv", kv_budget=BUDGET, window=WINDOW))
    config = tiny_model.config
    for layer, keys in enumerate(trace.cache.keys):
        assert trace.cache.prompt_lengths[layer] == BUDGET
        # GQA-native: one entry per KV head, never repeated to the query heads
        assert keys.shape[1] == config.num_key_value_heads
        assert keys.shape[3] == config.head_dim


def test_snapkv_kept_entries_match_naive(tiny_model):
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=8)
    trace = trace_prefill(
        tiny_model, prompt, build_method("snapkv", kv_budget=BUDGET, window=WINDOW, pool_kernel=KERNEL)
    )
    probs = attention_probs(tiny_model, prompt)
    keys = prompt_keys(tiny_model, prompt)
    num_kv = tiny_model.config.num_key_value_heads
    for layer in range(tiny_model.config.num_hidden_layers):
        scores = naive_kv_scores(probs[layer], WINDOW, KERNEL, num_kv)
        for head in range(num_kv):
            keep = naive_keep(scores[head], BUDGET, WINDOW)
            expected = keys[layer][0, head, keep]
            got = trace.cache.keys[layer][0, head, :BUDGET]
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


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


def test_snapkv_decoding_equals_masked_reference(tiny_model):
    """Decoding over the compressed cache equals a no-cache run where generated tokens are masked from the
    dropped prompt entries (per layer and KV head), at positions N + t."""
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=12)
    probs = attention_probs(tiny_model, prompt)
    num_kv = tiny_model.config.num_key_value_heads
    keeps = []
    for layer_probs in probs:
        scores = naive_kv_scores(layer_probs, WINDOW, KERNEL, num_kv)
        keeps.append(torch.stack([naive_keep(scores[g], BUDGET, WINDOW) for g in range(num_kv)]))
    method = build_method("snapkv", kv_budget=BUDGET, window=WINDOW, pool_kernel=KERNEL)
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=6, ignore_eos=True)
    assert result.token_ids == masked_decode_greedy(tiny_model, prompt, 6, keeps)
