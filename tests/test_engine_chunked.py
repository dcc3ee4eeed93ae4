"""The chunked prefill (``asl.engine.chunked_layer``): the same arithmetic as HF's layer forward, the same
decisions at every chunk size, bottom-right causal chunks, and a working set bounded by the chunk."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import asl.engine.layer_loop as layer_loop
from asl import build_method, generate, load_model
from asl.engine import trace_prefill
from asl.engine.attention import sdpa_kernel
from asl.engine.chunked_layer import chunk_bounds, layer_parts
from asl.token_scoring import window_attention_histogram
from tests.methods_under_test import METHODS
from tests.reference import random_prompt

NAMES = sorted(METHODS)


def run(model, name: str, prompt: torch.Tensor, **kw):
    method = build_method(name, **METHODS[name].small)
    return generate(model, None, prompt, method, max_new_tokens=5, ignore_eos=True, decode_mode="eager", **kw)


def test_chunk_bounds_cover_in_order_with_a_full_last_chunk():
    assert chunk_bounds(10, None) == [(0, 10)] and chunk_bounds(10, 16) == [(0, 10)]
    assert chunk_bounds(10, 4) == [(0, 2), (2, 6), (6, 10)]
    assert chunk_bounds(12, 4) == [(0, 4), (4, 8), (8, 12)]
    # at most 32 chunks per layer: 4096-token chunks up to 128K, n / 32 beyond
    assert len(chunk_bounds(131072, 4096)) == 32 and len(chunk_bounds(1048576, 4096)) == 32
    assert chunk_bounds(1048576, 4096)[-1] == (1048576 - 32768, 1048576)


def test_layer_parts_recognise_the_pre_norm_layouts(tiny_llama, tiny_qwen2):
    assert layer_parts(tiny_llama.model.layers[0]) is not None
    assert layer_parts(tiny_qwen2.model.layers[0]) is not None
    assert layer_parts(torch.nn.Linear(2, 2)) is None


def test_unchunked_composed_layers_equal_hf_layer_forward_bitwise(tiny_model, monkeypatch):
    """One chunk through the layer's own submodules == HF's layer forward, bit for bit (fp32)."""
    prompt = random_prompt(97, tiny_model.config.vocab_size, seed=4)[0]
    composed = trace_prefill(tiny_model, prompt, build_method("fullkv"), mlp_chunk=None)
    monkeypatch.setattr(layer_loop, "layer_parts", lambda layer: None)  # HF's forward on all tokens
    hf = trace_prefill(tiny_model, prompt, build_method("fullkv"), mlp_chunk=None)
    assert torch.equal(composed.logits, hf.logits)
    for a, b in zip(composed.cache.keys, hf.cache.keys, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_chunked_prefill_keeps_every_decision(tiny_model, name):
    """Chunks of 16 and 37 tokens: tokens, KV lengths, kept keys and selection layers as unchunked."""
    prompt = random_prompt(203, tiny_model.config.vocab_size, seed=11)[0]
    whole = run(tiny_model, name, prompt, mlp_chunk=None)
    for chunk in (16, 37):
        parts = run(tiny_model, name, prompt, mlp_chunk=chunk)
        assert parts.token_ids == whole.token_ids
        assert parts.kv_lengths == whole.kv_lengths
        assert parts.selection_layer == whole.selection_layer
        assert parts.selection_fired == whole.selection_fired
        assert parts.mlp_chunk == chunk


@pytest.mark.parametrize("name", ["snapkv", "asl", "gemfilter"])
def test_chunked_prefill_keeps_the_same_entries(tiny_llama, name):
    """The cached keys (i.e. the kept positions) agree within fp32 rounding of the chunked attention."""
    prompt = random_prompt(180, tiny_llama.config.vocab_size, seed=5)[0]
    method = build_method(name, **METHODS[name].small)
    whole = trace_prefill(tiny_llama, prompt, method, mlp_chunk=None)
    parts = trace_prefill(tiny_llama, prompt, method, mlp_chunk=24)
    assert whole.layers_run == parts.layers_run
    if whole.selected is not None:
        assert torch.equal(whole.selected, parts.selected)
    for a, b in zip(whole.cache.keys, parts.cache.keys, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.embedded
@pytest.mark.parametrize("name", ["snapkv", "fastkv", "asl_2pass"])
def test_chunked_prefill_embedded(embedded, name):
    model, _ = embedded
    prompt = random_prompt(400, model.config.vocab_size, seed=8)[0]
    method = build_method(name, kv_budget=96, window=16)
    kw = dict(max_new_tokens=6, ignore_eos=True, decode_mode="eager")
    whole = generate(model, None, prompt, method, mlp_chunk=None, **kw)
    parts = generate(model, None, prompt, method, mlp_chunk=64, **kw)
    assert parts.token_ids == whole.token_ids and parts.kv_lengths == whole.kv_lengths
    assert parts.selection_layer == whole.selection_layer


def test_chunked_prefill_bf16_within_rounding():
    model, _ = load_model("tiny_qwen2", dtype="bfloat16")
    prompt = random_prompt(150, 512, seed=3)[0]
    whole = trace_prefill(model, prompt, build_method("fullkv"), mlp_chunk=None)
    parts = trace_prefill(model, prompt, build_method("fullkv"), mlp_chunk=32)
    torch.testing.assert_close(parts.logits, whole.logits, rtol=0.02, atol=0.02)


def test_sdpa_kernel_aligns_a_causal_chunk_bottom_right():
    """A query chunk [s, e) against keys 0..e-1 equals rows s..e-1 of full causal attention."""
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 4, 30, 8), torch.randn(1, 2, 30, 8), torch.randn(1, 2, 30, 8)
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3, enable_gqa=True).transpose(1, 2)
    chunk = sdpa_kernel(q[:, :, 12:20], k[:, :, :20], v[:, :, :20], True, 0.3)
    torch.testing.assert_close(chunk, full[:, 12:20], rtol=1e-6, atol=1e-6)
    top_left = F.scaled_dot_product_attention(
        q[:, :, 12:20], k[:, :, :20], v[:, :, :20], is_causal=True, scale=0.3, enable_gqa=True
    ).transpose(1, 2)
    assert not torch.allclose(top_left, full[:, 12:20])  # what a top-left mask would give instead
    with pytest.raises(ValueError, match="more queries"):
        sdpa_kernel(q, k[:, :, :10], v[:, :, :10], True, 0.3)


def test_window_scores_read_only_the_last_queries():
    """Scoring from the last chunk's queries equals scoring from all queries (bitwise)."""
    torch.manual_seed(1)
    q, k = torch.randn(1, 6, 50, 8), torch.randn(1, 2, 50, 8)
    full = window_attention_histogram(q, k, 8, 0.35)
    tail = window_attention_histogram(q[:, :, -12:], k, 8, 0.35)
    assert torch.equal(full, tail) and full.shape == (6, 42)


def test_window_longer_than_the_chunk_is_refused(tiny_llama):
    prompt = random_prompt(60, 512, seed=1)[0]
    with pytest.raises(ValueError, match="longer than the prefill chunk"):
        generate(tiny_llama, None, prompt, build_method("snapkv", kv_budget=48, window=8), mlp_chunk=4)
