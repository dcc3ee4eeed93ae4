"""The per-decoding-step hook (Session.on_decode_step) and StreamingLLM as published (rolling eviction)."""

from __future__ import annotations

import torch

from asl import build_method
from asl.engine.generate import generate
from tests.reference import causal_mask, eager, random_prompt


@torch.inference_mode()
def rolling_reference(model, prompt: torch.Tensor, steps: int, budget: int, sinks: int) -> list[int]:
    """Greedy tokens without a cache: prompt tokens attend causally; the token at position p >= N sees
    the sinks (j < sinks) and the positions p - (budget - sinks) .. p, at every layer and head."""
    base, n = model.model, prompt.shape[1]
    ids, tokens = prompt.clone(), []
    for _ in range(steps):
        total = ids.shape[1]
        hidden = base.embed_tokens(ids)
        positions = torch.arange(total)[None]
        rope = base.rotary_emb(hidden, positions)
        mask = causal_mask(total, hidden.dtype).clone()
        for p in range(n, total):
            seen = torch.zeros(total, dtype=torch.bool)
            seen[:sinks] = True
            seen[max(0, p - (budget - sinks)) : p + 1] = True
            mask[0, 0, p, ~seen] = torch.finfo(hidden.dtype).min
        with eager(model):
            for layer in base.layers:
                out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope)
                hidden = out[0] if isinstance(out, tuple) else out
        token = int(torch.argmax(model.lm_head(base.norm(hidden[:, -1:]))[0, -1]))
        tokens.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokens


def test_rolling_streamingllm_equals_the_rolling_mask_reference(tiny_model):
    prompt = random_prompt(120, tiny_model.config.vocab_size, seed=5)
    method = build_method("streamingllm_rolling", kv_budget=48, num_sinks=4)
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=10, ignore_eos=True)
    assert result.token_ids == rolling_reference(tiny_model, prompt, 10, 48, 4)
    assert result.kv_lengths == [48] * tiny_model.config.num_hidden_layers


def test_rolling_differs_from_prefill_only_streamingllm_once_it_evicts(tiny_llama):
    prompt = random_prompt(120, tiny_llama.config.vocab_size, seed=5)
    rolling = generate(
        tiny_llama,
        None,
        prompt[0],
        build_method("streamingllm_rolling", kv_budget=12, num_sinks=4),
        max_new_tokens=12,
        ignore_eos=True,
    )
    static = generate(
        tiny_llama,
        None,
        prompt[0],
        build_method("streamingllm", kv_budget=12, num_sinks=4),
        max_new_tokens=12,
        ignore_eos=True,
    )
    assert rolling.token_ids != static.token_ids


def test_decode_time_method_forces_eager_with_a_recorded_reason(tiny_llama):
    prompt = random_prompt(60, tiny_llama.config.vocab_size, seed=1)
    method = build_method("streamingllm_rolling", kv_budget=16, num_sinks=4)
    result = generate(tiny_llama, None, prompt[0], method, max_new_tokens=3, decode_mode="static")
    assert result.decode_mode == "eager" and "evicts KV entries while decoding" in result.decode_mode_reason
    plain = generate(
        tiny_llama, None, prompt[0], build_method("streamingllm", kv_budget=16), max_new_tokens=3
    )
    assert plain.decode_mode_reason == ""
