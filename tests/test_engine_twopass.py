"""GemFilter and ASL_2pass: pass 1 stops early; pass 2 equals running the model from scratch on the ids."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from asl import build_method, generate
from asl.engine import trace_prefill
from tests.reference import random_prompt

K, N = 40, 140


def naive_gemfilter_keep(model, prompt: torch.Tensor, layer: int, k: int) -> torch.Tensor:
    """Last-token q·k at ``layer`` recomputed from the layer's input via its own projections and RoPE."""
    captured = {}
    attention = model.model.layers[layer].self_attn

    def hook(module, args, kwargs):
        captured["hidden"] = kwargs.get("hidden_states", args[0] if args else None)
        captured["rope"] = kwargs["position_embeddings"]

    handle = attention.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.inference_mode():
            model(prompt)
    finally:
        handle.remove()
    return _gemfilter_keep_from(attention, captured["hidden"], captured["rope"], k)


@torch.inference_mode()
def _gemfilter_keep_from(attention, hidden, rope, k):
    cos, sin = rope
    d = attention.head_dim
    q = attention.q_proj(hidden).view(1, N, -1, d).transpose(1, 2)
    key = attention.k_proj(hidden).view(1, N, -1, d).transpose(1, 2)

    def rotate(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    q = q * cos[:, None] + rotate(q) * sin[:, None]
    key = key * cos[:, None] + rotate(key) * sin[:, None]
    group = q.shape[1] // key.shape[1]
    key = key.repeat_interleave(group, dim=1)
    scores = (q[0, :, -1:, :] @ key[0].transpose(-1, -2)).sum(dim=(0, 1))
    pooled = F.avg_pool1d(scores[None, None], 5, stride=1, padding=2)[0, 0]
    order = sorted(range(N), key=lambda j: (-float(pooled[j]), j))[:k]
    return torch.tensor(sorted(order))


@pytest.mark.parametrize("filter_layer", [1, 4])
def test_gemfilter_pass1_selection_and_pass2_from_scratch(tiny_model, filter_layer):
    prompt = random_prompt(N, tiny_model.config.vocab_size, seed=70 + filter_layer)
    method = build_method("gemfilter", kv_budget=K, filter_layer=filter_layer)
    trace = trace_prefill(tiny_model, prompt, method)
    assert trace.layers_run == filter_layer + 1  # pass 1 runs layers 0..filter_layer only
    expected = naive_gemfilter_keep(tiny_model, prompt, filter_layer, K)
    assert trace.selected.tolist() == expected.tolist()
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=6, ignore_eos=True)
    selected = prompt[:, expected]
    scratch = tiny_model.generate(
        selected, max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0
    )
    assert result.token_ids == scratch[0, K:].tolist()  # decode positions continue at k, k+1, ...
    layers = tiny_model.config.num_hidden_layers
    assert result.kv_lengths == [K] * layers
    assert result.layers_run == filter_layer + 1 + layers
    assert result.selection_layer == filter_layer


def test_gemfilter_short_prompt_is_prefilled_twice(tiny_llama):
    prompt = random_prompt(30, 512, seed=3)[0]
    result = generate(tiny_llama, None, prompt, build_method("gemfilter", kv_budget=K), max_new_tokens=3)
    assert result.layers_run == 3 + 1 + 8  # tiny_llama's filter layer is 3


@pytest.mark.parametrize("name", ["gemfilter", "asl_2pass"])
def test_two_pass_reference_cap_is_first_token_plus_cap_steps(tiny_llama, name):
    """[ref]'s loop emits the first token, then ``cap`` loop steps: cap + 1 tokens at most."""
    prompt = random_prompt(60, 512, seed=4)[0]
    kwargs = dict(kv_budget=K, max_new_tokens_cap=3) | ({} if name == "gemfilter" else dict(window=8))
    result = generate(
        tiny_llama, None, prompt, build_method(name, **kwargs), max_new_tokens=10, ignore_eos=True
    )
    assert len(result.token_ids) == 4
    short = generate(
        tiny_llama, None, prompt, build_method(name, **kwargs), max_new_tokens=2, ignore_eos=True
    )
    assert len(short.token_ids) == 2  # the task's own budget still applies below the cap


@pytest.mark.parametrize("seed", [80, 81])
def test_asl_2pass_stops_at_selection_layer(tiny_model, seed):
    """Pass 1 stops right after the layer the one-pass rule selects, with the same token set."""
    prompt = random_prompt(N, tiny_model.config.vocab_size, seed=seed)
    rule = dict(kv_budget=K, window=8, tau=1.0, l_min=2, l_obs=2)
    trace = trace_prefill(tiny_model, prompt, build_method("asl_2pass", **rule))
    one_pass = trace_prefill(tiny_model, prompt, build_method("asl_fullbefore", **rule))
    last = tiny_model.config.num_hidden_layers - 1
    layer = one_pass.session.selection_layer if one_pass.session.selection_layer is not None else last
    assert trace.session.selection_layer == layer
    assert trace.layers_run == layer + 1
    if one_pass.session.selection_layer is not None:
        assert trace.selected.tolist() == one_pass.session.selector.keep.tolist()
    result = generate(
        tiny_model, None, prompt[0], build_method("asl_2pass", **rule), max_new_tokens=5, ignore_eos=True
    )
    scratch = tiny_model.generate(
        prompt[:, trace.selected], max_new_tokens=5, min_new_tokens=5, do_sample=False, pad_token_id=0
    )
    assert result.token_ids == scratch[0, K:].tolist()


def test_asl_2pass_stops_before_last_layer(tiny_llama):
    prompt = random_prompt(N, 512, seed=80)
    trace = trace_prefill(
        tiny_llama, prompt, build_method("asl_2pass", kv_budget=K, window=8, tau=1.0, l_min=2, l_obs=2)
    )
    assert trace.session.selection_layer < 7
    assert trace.layers_run == trace.session.selection_layer + 1


def test_asl_2pass_falls_back_to_last_layer(tiny_llama):
    prompt = random_prompt(N, 512, seed=81)
    method = build_method("asl_2pass", kv_budget=K, window=8, tau=1e-12)
    trace = trace_prefill(tiny_llama, prompt, method)
    assert trace.session.selection_layer == 7
    assert trace.layers_run == 8
    assert trace.selected.shape[0] == K
    assert trace.selected[-8:].tolist() == list(range(N - 8, N))
