"""Every method in the methods-under-test table: the engine against the method's own arithmetic, and
cache-compressing methods against their naive references (kept keys per layer and KV head; decoding
against a masked no-cache run)."""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate
from asl.engine import trace_prefill
from asl.methods import list_methods, method_from_config
from tests.methods_under_test import METHODS, LayerView
from tests.reference import attention_probs, masked_decode_greedy, prompt_keys, random_prompt

COMPRESSING = sorted(name for name, mut in METHODS.items() if mut.naive_keep is not None)


def test_every_method_configuration_is_under_test():
    assert set(METHODS) == set(list_methods())


def naive_kept(model, prompt: torch.Tensor, method) -> list[torch.Tensor]:
    """Per layer [H_kv, kept] from the naive reference of ``method``."""
    probs = attention_probs(model, prompt)
    config = model.config
    views = [
        LayerView(p, layer, config.num_hidden_layers, config.num_key_value_heads, method)
        for layer, p in enumerate(probs)
    ]
    return [METHODS[method.name].naive_keep(view) for view in views]


@pytest.mark.parametrize("name", COMPRESSING)
def test_kept_entries_match_naive_reference(tiny_model, name):
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=8)
    method = build_method(name, **METHODS[name].small)
    trace = trace_prefill(tiny_model, prompt, method)
    keys = prompt_keys(tiny_model, prompt)
    for layer, keep in enumerate(naive_kept(tiny_model, prompt, method)):
        kept = keep.shape[1]
        assert trace.cache.prompt_lengths[layer] == kept
        assert trace.cache.keys[layer].shape[1] == tiny_model.config.num_key_value_heads  # GQA-native
        for head in range(keep.shape[0]):
            expected = keys[layer][0, head, keep[head]]
            torch.testing.assert_close(
                trace.cache.keys[layer][0, head, :kept], expected, rtol=1e-5, atol=1e-5
            )


@pytest.mark.parametrize("name", COMPRESSING)
def test_decoding_equals_masked_reference(tiny_model, name):
    """Decoding over the compressed cache equals a no-cache run in which generated tokens are masked from
    the dropped prompt entries (per layer and KV head), at positions N + t."""
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=12)
    method = build_method(name, **METHODS[name].small)
    keeps = naive_kept(tiny_model, prompt, method)
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=6, ignore_eos=True)
    assert result.token_ids == masked_decode_greedy(tiny_model, prompt, 6, keeps)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_engine_kv_matches_the_methods_arithmetic(tiny_model, name):
    """The KV entries the engine keeps per layer are what the method says it keeps (kv_lengths)."""
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=13)
    method = build_method(name, **METHODS[name].small)
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=2, ignore_eos=True)
    layers = tiny_model.config.num_hidden_layers
    resolved = method_from_config(result.method_config)
    assert result.kv_lengths == resolved.kv_lengths(150, layers, result.selection_layer)
    assert result.layers_run == resolved.layer_calls(layers, result.selection_layer)
