"""The engine's exact equivalences also hold in bfloat16 on CPU (issue 14).

In bf16 every rounding difference between two code paths is visible, so these catch paths that differ only
in dtype handling (scores ranked in the model dtype, caches kept in float32, ...), which fp32 hides.
"""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate, load_model
from asl.methods import method_node
from tests.methods_under_test import METHODS
from tests.reference import random_prompt

STEPS = 8
PRUNING = sorted(name for name in METHODS if name != "fullkv")


def unpruned_params(name: str, budget: int) -> dict:
    """The method-under-test parameters at ``budget``; a selection rule is forced to fire at layer 2, so the
    kept-every-token path really runs (the rule may otherwise never fire on a random model)."""
    forced = {"force_layer": 2} if "force_layer" in method_node(name) else {}
    return dict(METHODS[name].small, **METHODS[name].unpruned, **forced, kv_budget=budget)


@pytest.fixture(scope="module", params=["tiny_llama", "tiny_qwen2"])
def bf16_model(request):
    model, _ = load_model(request.param, dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    return model


def test_fullkv_bf16_matches_hf_generate(bf16_model):
    prompt = random_prompt(96, bf16_model.config.vocab_size, seed=300)
    result = generate(bf16_model, None, prompt[0], build_method("fullkv"), max_new_tokens=12, ignore_eos=True)
    reference = bf16_model.generate(
        prompt, max_new_tokens=12, min_new_tokens=12, do_sample=False, pad_token_id=0
    )
    assert result.token_ids == reference[0, 96:].tolist()


@pytest.mark.parametrize("name", PRUNING)
def test_budget_at_or_above_prompt_equals_fullkv_bf16(bf16_model, name):
    """With a budget of N (and above) no method prunes anything: FullKV's tokens and KV lengths."""
    prompt = random_prompt(40, bf16_model.config.vocab_size, seed=301)
    full = generate(
        bf16_model, None, prompt[0], build_method("fullkv"), max_new_tokens=STEPS, ignore_eos=True
    )
    for budget in (40, 64):
        method = build_method(name, **unpruned_params(name, budget))
        result = generate(bf16_model, None, prompt[0], method, max_new_tokens=STEPS, ignore_eos=True)
        assert result.token_ids == full.token_ids, budget
        assert result.kv_lengths == full.kv_lengths, budget


@pytest.mark.parametrize("kv_before", ["snapkv", "full"])
@pytest.mark.parametrize("layer", [2, 5])
def test_asl_forced_layer_equals_fastkv_bf16(bf16_model, kv_before, layer):
    prompt = random_prompt(140, bf16_model.config.vocab_size, seed=310 + layer)[0]
    common = dict(kv_budget=40, window=8, kv_before=kv_before)
    asl = generate(
        bf16_model,
        None,
        prompt,
        build_method("asl", force_layer=layer, **common),
        max_new_tokens=STEPS,
        ignore_eos=True,
    )
    fast = generate(
        bf16_model,
        None,
        prompt,
        build_method("fastkv", tsp_layer=layer, **common),
        max_new_tokens=STEPS,
        ignore_eos=True,
    )
    assert asl.selection_layer == fast.selection_layer == layer
    assert asl.token_ids == fast.token_ids
    assert asl.kv_lengths == fast.kv_lengths
    full = generate(bf16_model, None, prompt, build_method("fullkv"), max_new_tokens=STEPS, ignore_eos=True)
    assert asl.kv_lengths != full.kv_lengths  # pruning happened, so the equality is not FullKV's twice
