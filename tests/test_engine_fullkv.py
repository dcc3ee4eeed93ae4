"""FullKV through the engine equals transformers' own greedy generate; isolation between requests."""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate
from asl.methods import method_from_config
from tests.methods_under_test import METHODS
from tests.reference import random_prompt

PRUNING = sorted(name for name in METHODS if name != "fullkv")


def hf_greedy(model, prompt: torch.Tensor, steps: int) -> list[int]:
    out = model.generate(prompt, max_new_tokens=steps, min_new_tokens=steps, do_sample=False, pad_token_id=0)
    return out[0, prompt.shape[1] :].tolist()


def test_fullkv_matches_hf_generate_tiny(tiny_model):
    prompt = random_prompt(96, tiny_model.config.vocab_size, seed=3)
    result = generate(tiny_model, None, prompt[0], build_method("fullkv"), max_new_tokens=12, ignore_eos=True)
    assert result.token_ids == hf_greedy(tiny_model, prompt, 12)
    assert result.kv_lengths == [96] * tiny_model.config.num_hidden_layers
    assert result.selection_layer is None


@pytest.mark.embedded
def test_fullkv_matches_hf_generate_embedded(embedded):
    model, tokenizer = embedded
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    result = generate(model, tokenizer, ids, build_method("fullkv"), max_new_tokens=24)
    reference = model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False, eos_token_id=[0, 2])
    assert result.token_ids == reference[0, len(ids) :].tolist()
    assert "Paris" in result.text
    assert result.kv_cache_bytes == 30 * 3 * 64 * 2 * 4 * len(ids)


@pytest.mark.parametrize("name", PRUNING)
def test_budget_at_or_above_prompt_equals_fullkv(tiny_model, name):
    prompt = random_prompt(40, tiny_model.config.vocab_size, seed=5)
    full = generate(tiny_model, None, prompt[0], build_method("fullkv"), max_new_tokens=8, ignore_eos=True)
    # a method that evicts while decoding prunes nothing only when the budget also holds the new tokens
    room = 8 if build_method(name).decode_eviction else 0
    params = dict(METHODS[name].small, kv_budget=40 + room, **METHODS[name].unpruned)
    method = build_method(name, **params)
    assert method.kv_lengths(40, tiny_model.config.num_hidden_layers, None) == [40] * 8  # nothing is pruned
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=8, ignore_eos=True)
    assert result.token_ids == full.token_ids
    assert result.kv_lengths == full.kv_lengths


@pytest.mark.parametrize("name", PRUNING)
def test_requests_are_isolated(tiny_llama, name):
    """Two different requests in a row give the same results as each alone (no leaked state)."""
    method = build_method(name, **METHODS[name].small)
    first, second = (random_prompt(160, 512, seed=s)[0] for s in (11, 12))
    alone = generate(tiny_llama, None, second, method, max_new_tokens=6, ignore_eos=True)
    generate(tiny_llama, None, first, method, max_new_tokens=6, ignore_eos=True)
    again = generate(tiny_llama, None, second, method, max_new_tokens=6, ignore_eos=True)
    assert again.token_ids == alone.token_ids
    assert again.kv_lengths == alone.kv_lengths
    assert again.selection_layer == alone.selection_layer
    assert again.rel_variance == alone.rel_variance
    # the second prompt was pruned as the method prescribes, not left whole (KVCache-Factory #15)
    resolved = method_from_config(again.method_config)
    assert again.kv_lengths == resolved.kv_lengths(160, 8, again.selection_layer)


def test_stop_tokens_and_max_new_tokens(tiny_llama):
    prompt = random_prompt(30, 512, seed=2)[0]
    free = generate(tiny_llama, None, prompt, build_method("fullkv"), max_new_tokens=10, ignore_eos=True)
    stop = free.token_ids[3]
    stopped = generate(
        tiny_llama, None, prompt, build_method("fullkv"), max_new_tokens=10, stop_token_ids=[stop]
    )
    assert stopped.token_ids == free.token_ids[: free.token_ids.index(stop) + 1]
    assert len(free.token_ids) == 10 and free.tpot_s is not None and free.ttft_s > 0


def test_engine_restores_attention_implementation(tiny_llama):
    before = tiny_llama.config._attn_implementation
    generate(
        tiny_llama,
        None,
        random_prompt(20, 512, seed=1)[0],
        build_method("asl", kv_budget=48, window=8),
        max_new_tokens=2,
    )
    assert tiny_llama.config._attn_implementation == before
