"""FastKV and ASL propagation against the naive no-cache reference (original positions, gather after MLP)."""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate
from asl.engine import trace_prefill
from tests.reference import (
    attention_probs,
    naive_greedy,
    naive_keep,
    naive_kv_scores,
    propagated_logits,
    random_prompt,
)

K, WINDOW, N = 40, 8, 140


def naive_selection(model, prompt, layer: int) -> torch.Tensor:
    probs = attention_probs(model, prompt)[layer]
    scores = naive_kv_scores(probs, WINDOW, 7, model.config.num_key_value_heads).sum(dim=0)
    return naive_keep(scores, K, WINDOW)


@pytest.mark.parametrize("tsp_layer", [2, 4])
def test_fastkv_fullbefore_equals_naive_reference(tiny_model, tsp_layer):
    prompt = random_prompt(N, tiny_model.config.vocab_size, seed=20 + tsp_layer)
    keep = naive_selection(tiny_model, prompt, tsp_layer)
    method = build_method("fastkv_fullbefore", kv_budget=K, window=WINDOW, tsp_layer=tsp_layer)
    trace = trace_prefill(tiny_model, prompt, method)
    reference_logits = propagated_logits(tiny_model, prompt, tsp_layer, keep, N)
    torch.testing.assert_close(trace.logits, reference_logits, rtol=1e-4, atol=1e-4)
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=6, ignore_eos=True)
    assert result.token_ids == naive_greedy(tiny_model, prompt, 6, tsp_layer, keep)
    layers = tiny_model.config.num_hidden_layers
    assert result.kv_lengths == [N] * (tsp_layer + 1) + [K] * (layers - tsp_layer - 1)
    assert result.selection_layer == tsp_layer


def test_fastkv_snapkv_cache_lengths(tiny_llama):
    prompt = random_prompt(N, 512, seed=31)[0]
    result = generate(
        tiny_llama,
        None,
        prompt,
        build_method("fastkv", kv_budget=K, window=WINDOW, tsp_layer=3),
        max_new_tokens=4,
    )
    assert result.kv_lengths == [K] * 8  # budget up to and at the TSP layer, exactly k after it


def test_fastkv_snapkv_prefill_equals_fullbefore(tiny_qwen2):
    """SnapKV before selection changes only the cache, so the first-token logits are Full-before's."""
    prompt = random_prompt(N, 512, seed=32)
    a = trace_prefill(tiny_qwen2, prompt, build_method("fastkv", kv_budget=K, window=WINDOW, tsp_layer=3))
    b = trace_prefill(
        tiny_qwen2, prompt, build_method("fastkv_fullbefore", kv_budget=K, window=WINDOW, tsp_layer=3)
    )
    torch.testing.assert_close(a.logits, b.logits)


@pytest.mark.parametrize("kv_before", ["snapkv", "full"])
@pytest.mark.parametrize("layer", [2, 5])
def test_asl_forced_layer_equals_fastkv(tiny_model, kv_before, layer):
    prompt = random_prompt(N, tiny_model.config.vocab_size, seed=40 + layer)[0]
    common = dict(kv_budget=K, window=WINDOW, kv_before=kv_before)
    asl = generate(
        tiny_model,
        None,
        prompt,
        build_method("asl", force_layer=layer, **common),
        max_new_tokens=6,
        ignore_eos=True,
    )
    fast = generate(
        tiny_model,
        None,
        prompt,
        build_method("fastkv", tsp_layer=layer, **common),
        max_new_tokens=6,
        ignore_eos=True,
    )
    assert asl.selection_layer == fast.selection_layer == layer
    assert asl.token_ids == fast.token_ids
    assert asl.kv_lengths == fast.kv_lengths


def test_asl_selected_layer_equals_fastkv_at_that_layer(tiny_llama):
    """The adaptive rule's own choice, replayed as FastKV at the same layer, gives identical output."""
    prompt = random_prompt(N, 512, seed=50)[0]
    common = dict(kv_budget=K, window=WINDOW, kv_before="full")
    asl = generate(
        tiny_llama,
        None,
        prompt,
        build_method("asl", tau=1.0, l_min=2, l_obs=2, **common),
        max_new_tokens=6,
        ignore_eos=True,
    )
    assert asl.selection_layer is not None and asl.selection_layer > 2
    fast = generate(
        tiny_llama,
        None,
        prompt,
        build_method("fastkv", tsp_layer=asl.selection_layer, **common),
        max_new_tokens=6,
        ignore_eos=True,
    )
    assert asl.token_ids == fast.token_ids
    assert set(asl.rel_variance) == set(range(2, asl.selection_layer + 1))
    assert asl.rel_variance[2] == 1.0


def test_asl_never_met_threshold_equals_fullkv(tiny_model):
    prompt = random_prompt(N, tiny_model.config.vocab_size, seed=60)[0]
    full = generate(tiny_model, None, prompt, build_method("fullkv"), max_new_tokens=6, ignore_eos=True)
    asl = generate(
        tiny_model,
        None,
        prompt,
        build_method("asl_fullbefore", kv_budget=K, window=WINDOW, tau=1e-12),
        max_new_tokens=6,
        ignore_eos=True,
    )
    assert asl.selection_layer is None
    assert asl.token_ids == full.token_ids
    assert asl.kv_lengths == full.kv_lengths
    assert len(asl.rel_variance) == tiny_model.config.num_hidden_layers - 3  # layers l_min..last were checked
