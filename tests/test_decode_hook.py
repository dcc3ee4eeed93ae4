"""The per-decoding-step hook (Session.on_decode_step) and StreamingLLM as published (rolling eviction)."""

from __future__ import annotations

import torch

from asl import build_method
from asl.engine.generate import generate
from tests.reference import causal_mask, greedy_with_masks, random_prompt


def rolling_reference(model, prompt: torch.Tensor, steps: int, budget: int, sinks: int) -> list[int]:
    """Greedy tokens without a cache: prompt tokens attend causally; the token at position p >= N sees
    the sinks (j < sinks) and the positions p - (budget - sinks) .. p, at every layer and head."""
    n = prompt.shape[1]

    def mask_for(total: int, layer: int, dtype: torch.dtype) -> torch.Tensor:
        mask = causal_mask(total, dtype).clone()
        for p in range(n, total):
            seen = torch.zeros(total, dtype=torch.bool)
            seen[:sinks] = True
            seen[max(0, p - (budget - sinks)) : p + 1] = True
            mask[0, 0, p, ~seen] = torch.finfo(dtype).min
        return mask

    return greedy_with_masks(model, prompt, steps, mask_for)


def test_rolling_streamingllm_equals_the_rolling_mask_reference(tiny_model):
    prompt = random_prompt(120, tiny_model.config.vocab_size, seed=5)
    method = build_method("streamingllm_rolling", kv_budget=48, num_sinks=4)
    result = generate(tiny_model, None, prompt[0], method, max_new_tokens=10, ignore_eos=True)
    assert result.token_ids == rolling_reference(tiny_model, prompt, 10, 48, 4)
    assert result.kv_lengths == [48] * tiny_model.config.num_hidden_layers


def test_rolling_differs_from_prefill_only_streamingllm_once_it_evicts(tiny_llama):
    prompt = random_prompt(120, tiny_llama.config.vocab_size, seed=5)[0]
    rolling, static = (
        generate(
            tiny_llama,
            None,
            prompt,
            build_method(name, kv_budget=12, num_sinks=4),
            max_new_tokens=12,
            ignore_eos=True,
        )
        for name in ("streamingllm_rolling", "streamingllm")
    )
    assert rolling.token_ids != static.token_ids
