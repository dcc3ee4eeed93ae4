"""The paper-scale GPU path on CPU: FlashAttention through HF's own wrapper, the static decode step,
the token-chunked MLP, per-phase peaks and string prompts (methods.md §1, §9, §10).

The FlashAttention test keeps HF's registered ``flash_attention_2`` wrapper and replaces only the kernel
it calls with a stand-in that checks what the real one checks (the implementation named by
``module.config._attn_implementation``) and computes SDPA.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import transformers.integrations.flash_attention as hf_flash

from asl import build_method, generate, load_model
from asl.engine.chunking import TokenChunked, chunked_mlp
from asl.engine.static_decode import DECODE_BLOCK, masked_decode_attention
from tests.methods_under_test import METHODS
from tests.reference import random_prompt

NAMES = sorted(METHODS)
STEPS = 6


def run(model, name: str, prompt: torch.Tensor, **kw):
    method = build_method(name, **METHODS[name].small)
    return generate(model, None, prompt, method, max_new_tokens=STEPS, ignore_eos=True, **kw)


def flash_stand_in(query, key, value, attention_mask, query_length, is_causal, **kwargs):
    """HF's ``_flash_attention_forward`` on CPU: loads nothing, checks the implementation name, runs SDPA."""
    implementation = kwargs["attn_implementation"]
    if implementation != "flash_attention_2":  # what the real one hands to lazy_import_flash_attention
        raise ValueError(
            f"Could not find the currently requested flash attention implementation at {implementation!r}"
        )
    assert attention_mask is None and isinstance(kwargs["layer_idx"], int)
    q, k, v = (t.transpose(1, 2) for t in (query, key, value))  # FA layout [B, T, H, d] back to [B, H, T, d]
    out = F.scaled_dot_product_attention(
        q, k, v, is_causal=is_causal, scale=kwargs["softmax_scale"], enable_gqa=True
    )
    return out.transpose(1, 2)


@pytest.fixture(scope="module")
def flash_llama():
    model, _ = load_model("tiny_llama", attn_implementation="flash_attention_2")
    return model


@pytest.mark.parametrize("name", NAMES)
def test_flash_attention_2_through_hf_wrapper(tiny_llama, flash_llama, monkeypatch, name):
    calls = []
    monkeypatch.setattr(
        hf_flash, "_flash_attention_forward", lambda *a, **k: calls.append(1) or flash_stand_in(*a, **k)
    )
    prompt = random_prompt(120, 512, seed=21)[0]
    sdpa = run(tiny_llama, name, prompt, decode_mode="eager")
    flash = run(flash_llama, name, prompt, decode_mode="eager")
    assert calls and flash.attention_kernel == "flash_attention_2" and sdpa.attention_kernel == "sdpa"
    assert flash.token_ids == sdpa.token_ids and flash.kv_lengths == sdpa.kv_lengths
    assert flash_llama.config._attn_implementation == "flash_attention_2"  # restored after the request


def test_flash_wrapper_rejects_the_engine_name(flash_llama, monkeypatch):
    """The bug this path fixes: HF's wrapper called with the module itself sees the engine's name."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    from asl.engine.attention import ENGINE_ATTENTION, engine_attention_enabled

    monkeypatch.setattr(hf_flash, "_flash_attention_forward", flash_stand_in)
    module = flash_llama.model.layers[0].self_attn
    q, kv = torch.randn(1, 4, 5, 16), torch.randn(1, 2, 5, 16)
    with engine_attention_enabled(flash_llama), pytest.raises(ValueError, match=ENGINE_ATTENTION):
        ALL_ATTENTION_FUNCTIONS["flash_attention_2"](module, q, kv, kv, None, scaling=0.25, is_causal=True)


@pytest.mark.parametrize("mode", ["static", "static_nograph"])
@pytest.mark.parametrize("name", NAMES)
def test_static_decode_equals_eager(tiny_model, name, mode):
    prompt = random_prompt(120, tiny_model.config.vocab_size, seed=22)[0]
    eager = run(tiny_model, name, prompt, decode_mode="eager")
    static = run(tiny_model, name, prompt, decode_mode=mode)
    expected = "eager" if build_method(name).decode_eviction else mode  # decode-time eviction: eager
    assert (eager.decode_mode, static.decode_mode) == ("eager", expected) and not static.decode_graph
    assert bool(static.decode_mode_reason) == (expected == "eager")
    assert static.token_ids == eager.token_ids and static.kv_lengths == eager.kv_lengths
    assert len(static.token_ids) == STEPS and static.tpot_s is not None


@pytest.mark.embedded
def test_static_decode_equals_eager_embedded(embedded):
    model, tokenizer = embedded
    text = "List three facts about the Moon, one per line."
    method = build_method("asl", kv_budget=32, window=8)
    eager = generate(model, tokenizer, text, method, max_new_tokens=16, decode_mode="eager")
    static = generate(model, tokenizer, text, method, max_new_tokens=16, decode_mode="static")
    assert static.token_ids == eager.token_ids and static.text == eager.text and len(eager.token_ids) > 4


def test_masked_decode_attention_matches_sdpa():
    torch.manual_seed(0)
    length, used = 2 * DECODE_BLOCK, 300
    q = torch.randn(1, 6, 1, 16)
    keys, values = torch.randn(1, 2, length, 16), torch.randn(1, 2, length, 16)
    keys[:, :, used:] = 1e4  # entries past the length must not count, whatever they hold
    unused = torch.arange(length) >= used
    out = masked_decode_attention(q, keys, values, unused, 0.25)
    ref = F.scaled_dot_product_attention(
        q, keys[:, :, :used], values[:, :, :used], scale=0.25, enable_gqa=True
    )
    torch.testing.assert_close(out, ref.transpose(1, 2), rtol=1e-5, atol=1e-6)
    half = masked_decode_attention(q.bfloat16(), keys.bfloat16(), values.bfloat16(), unused, 0.25)
    torch.testing.assert_close(half.float(), ref.transpose(1, 2), rtol=0.02, atol=0.02)


def test_decode_mode_is_checked(tiny_llama):
    with pytest.raises(ValueError, match="decode_mode must be one of eager, static"):
        run(tiny_llama, "fullkv", random_prompt(20, 512, seed=1)[0], decode_mode="graph")


def test_chunked_mlp_restores_modules_on_error(tiny_llama):
    layers = tiny_llama.model.layers
    originals = [layer.mlp for layer in layers]
    with pytest.raises(RuntimeError, match="boom"), chunked_mlp(layers, 16):
        assert all(isinstance(layer.mlp, TokenChunked) for layer in layers)
        raise RuntimeError("boom")
    assert [layer.mlp for layer in layers] == originals
    with pytest.raises(ValueError, match="mlp_chunk must be"):
        run(tiny_llama, "fullkv", random_prompt(20, 512, seed=1)[0], mlp_chunk=-4)


def test_phase_peaks_are_reported(tiny_llama):
    res = run(tiny_llama, "snapkv", random_prompt(120, 512, seed=2)[0])
    assert res.prefill_peak_bytes is not None and res.decode_peak_bytes is not None
    assert res.peak_memory_bytes == max(res.prefill_peak_bytes, res.decode_peak_bytes)
    one = generate(
        tiny_llama, None, random_prompt(30, 512, seed=2)[0], build_method("fullkv"), max_new_tokens=1
    )
    assert one.decode_peak_bytes is None and one.tpot_s is None


def test_string_prompt_needs_a_tokenizer_and_template(tiny_llama):
    with pytest.raises(ValueError, match="needs a tokenizer"):
        generate(tiny_llama, None, "hello", build_method("fullkv"))


@pytest.mark.embedded
def test_string_prompt_uses_the_chat_template(embedded):
    model, tokenizer = embedded
    text = "What is the capital of France?"
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, return_dict=True
    )["input_ids"]
    from_text = generate(model, tokenizer, text, build_method("fullkv"), max_new_tokens=8)
    from_ids = generate(model, tokenizer, ids, build_method("fullkv"), max_new_tokens=8)
    assert from_text.token_ids == from_ids.token_ids and from_text.prompt_tokens == len(ids)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA: the CUDA-graph decode is checked by make gpu-check"
)
def test_static_decode_cuda_graph_fp32():
    model, _ = load_model("tiny_llama", device="cuda", dtype="float32")
    prompt = random_prompt(120, 512, seed=5)[0]
    for name in NAMES:
        eager = run(model, name, prompt, decode_mode="eager")
        static = run(model, name, prompt, decode_mode="static")
        assert static.decode_graph and static.token_ids == eager.token_ids, name
