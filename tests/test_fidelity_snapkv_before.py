"""FastKV and ASL with SnapKV before selection (the paper's main rows) against a naive no-cache reference.

The reference (``tests/reference.py: one_pass_reference``) recomputes everything without a cache:

* prefill: layers 0..s on the whole prompt; after layer s's MLP the hidden states, position ids and RoPE are
  gathered to the selected tokens, which keep their original positions; deeper layers run on those only;
* each layer's kept entries per KV head are recomputed from the reference's own eager attention: the whole
  prompt up to s, the propagated tokens after s (compressed again only when they exceed the budget);
* decoding (positions N + t): at layers <= s a generated token sees, per KV head, only that layer's SnapKV
  entries of the full prompt; at layers > s it sees the propagated tokens' own deeper-layer states (not the
  SnapKV set of any earlier layer), plus every generated token.

The selected set comes from the reference's own scores (FastKV) or from the independent ASL oracle (ASL).
"""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate
from asl.engine import trace_prefill
from tests.reference import (
    asl_rule_oracle,
    engine_selection,
    naive_keep,
    one_pass_reference,
    prompt_token_scores,
    random_prompt,
    text_prompt,
)

N, WINDOW, KERNEL, STEPS = 150, 8, 7, 6


def check_one_pass(model, tokenizer, prompt, name, params, split, keep, steps, atol) -> list[int]:
    """Engine prefill logits, greedy tokens and prompt KV lengths equal the no-cache reference's; returns
    the KV lengths."""
    method = build_method(name, **params)
    reference = one_pass_reference(
        model,
        prompt,
        steps,
        budget=params["kv_budget"] if params.get("kv_before", "snapkv") == "snapkv" else None,
        window=params["window"],
        kernel=KERNEL,
        split_layer=split,
        keep_prompt=keep,
    )
    trace = trace_prefill(model, prompt, method)
    engine = engine_selection(trace)
    assert engine.layer == split
    assert engine.keep == (None if keep is None else list(keep))
    torch.testing.assert_close(trace.logits, reference.logits, rtol=atol, atol=atol)
    result = generate(model, tokenizer, prompt[0], method, max_new_tokens=steps, ignore_eos=True)
    assert result.kv_lengths == reference.kv_lengths
    assert result.token_ids == reference.tokens
    return reference.kv_lengths


def fastkv_keep(model, prompt, layer: int, num_keep: int, window: int) -> list[int]:
    """FastKV's propagation set from the reference's full-prompt scores at ``layer``."""
    scores = prompt_token_scores(model, prompt, window, KERNEL)[layer]
    return naive_keep(scores, num_keep, window).tolist()


FASTKV_CASES = {
    # id: (tsp layer, kv_budget, select_k, expected prompt KV per layer for 8 layers)
    "tsp2": (2, 48, None, [48] * 8),
    "tsp5": (5, 48, None, [48] * 8),
    "k_below_budget": (3, 48, 32, [48] * 4 + [32] * 4),
    "k_above_budget": (3, 40, 64, [40] * 8),  # the 64 propagated tokens are compressed again to 40
}


@pytest.mark.parametrize("case", sorted(FASTKV_CASES))
def test_fastkv_snapkv_before_equals_naive(tiny_model, case):
    layer, budget, select_k, kv_lengths = FASTKV_CASES[case]
    prompt = random_prompt(N, tiny_model.config.vocab_size, seed=200 + layer)
    num_keep = select_k or budget
    keep = fastkv_keep(tiny_model, prompt, layer, num_keep, WINDOW)
    params = dict(kv_budget=budget, select_k=select_k, window=WINDOW, tsp_layer=layer)
    assert check_one_pass(tiny_model, None, prompt, "fastkv", params, layer, keep, STEPS, 1e-4) == kv_lengths
    assert len(keep) == num_keep


ASL_RULE = dict(tau=0.8, l_min=1, l_obs=3, window=WINDOW)
ASL_CASES = [  # (model, prompt seed, selection layer): the same prompts as test_fidelity_asl_oracle.py
    ("tiny_llama", 102, 4),
    ("tiny_qwen2", 100, 5),
    ("tiny_llama", 101, None),
]


@pytest.mark.parametrize("model_name, seed, layer", ASL_CASES)
def test_asl_snapkv_before_equals_naive(request, model_name, seed, layer):
    """ASL propagates the oracle's S after the oracle's layer; never firing leaves plain SnapKV."""
    model = request.getfixturevalue(model_name)
    prompt = random_prompt(160, model.config.vocab_size, seed)
    scores = prompt_token_scores(model, prompt, WINDOW, KERNEL)
    oracle = asl_rule_oracle(scores, num_keep=40, tie_rel=1e-6, **ASL_RULE)
    assert oracle.layer == layer and not oracle.boundary_tie
    params = dict(ASL_RULE, kv_budget=48, select_k=40)
    check_one_pass(model, None, prompt, "asl", params, oracle.layer, oracle.keep, STEPS, 1e-4)


@pytest.fixture(scope="module")
def embedded_prompt_scores(embedded):
    """The N = 341 real prompt and its full-prompt token scores (window 32), shared by both methods."""
    prompt = torch.tensor([text_prompt(embedded[1], 300, 0)])
    return prompt, prompt_token_scores(embedded[0], prompt, 32, KERNEL)


@pytest.mark.embedded
@pytest.mark.parametrize("name", ["fastkv", "asl"])
def test_snapkv_before_equals_naive_embedded(embedded, embedded_prompt_scores, name):
    """Real attention (N = 341, SnapKV budget 64, 128 propagated tokens compressed again to 64, window 32):
    FastKV at the model's TSP layer 14, and ASL, whose rule fires at layer 18 on this prompt. Over these 8
    tokens the SnapKV-before greedy text differs from the Full-before one at the same layer and set (steps 6
    and 8), so decoding over the wrong entries would show."""
    model, tokenizer = embedded
    prompt, scores = embedded_prompt_scores
    window, budget, num_keep = 32, 64, 128
    params = dict(kv_budget=budget, select_k=num_keep, window=window)
    if name == "fastkv":
        layer, keep = 14, naive_keep(scores[14], num_keep, window).tolist()
    else:
        rule = dict(tau=0.8, l_min=10, l_obs=8)
        oracle = asl_rule_oracle(scores, num_keep=num_keep, window=window, **rule)
        assert oracle.layer == 18 and not oracle.boundary_tie
        assert min(abs(rho - 0.8) for rho in oracle.trace.values()) > 0.05
        layer, keep, params = oracle.layer, oracle.keep, dict(params, **rule)
    kv_lengths = check_one_pass(model, tokenizer, prompt, name, params, layer, keep, 8, 2e-3)
    assert kv_lengths == [budget] * 30
