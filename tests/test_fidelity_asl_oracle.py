"""ASL's rule end to end against an independent oracle (issue 14): rho trace, selection layer and kept set.

The oracle (``tests/reference.py``) scores tokens from HF eager attention probabilities of the full prompt,
ranks them and applies methods.md §5.2 in plain Python; nothing of the engine is used. Under SnapKV before
selection the engine's prefill attention still sees the whole prompt up to the selection layer (SnapKV only
changes what is cached), so the same full-prompt oracle holds for ``asl``, ``asl_fullbefore`` and
``asl_2pass`` pass 1.

Float32 near ties: scores closer than the engine's summation error may be ranked either way by an exact
implementation. The oracle measures how much rho can move from them (``slack``, about 1e-3 here); rho must
agree to 1e-5 plus that slack, and each case asserts that its selection is decided by a wider margin.
"""

from __future__ import annotations

import pytest
import torch

from asl import build_method, generate
from asl.engine import trace_prefill
from tests.reference import (
    RuleOutcome,
    asl_rule_oracle,
    descending_ranks_naive,
    engine_selection,
    prompt_token_scores,
    random_prompt,
    text_prompt,
    top_ranked_with_window,
)

RHO_ATOL = 1e-5
MAX_SLACK = 0.01  # float32 near ties may move rho by at most this much, else the comparison would be loose


def assert_decisive(oracle: RuleOutcome, tau: float) -> None:
    """The case itself is well posed: every checked rho is farther from tau than near ties can move it,
    and no near tie straddles rank m at the selection layer."""
    assert max(oracle.slack.values()) < MAX_SLACK, oracle.slack
    for layer, rho in oracle.trace.items():
        assert abs(rho - tau) > oracle.slack[layer] + RHO_ATOL, (layer, rho, tau)
    assert not oracle.boundary_tie


def assert_alternatives_differ(
    scores, oracle: RuleOutcome, l_min: int, l_obs: int, num_keep: int, window: int
):
    """The case tells the spec's set apart from the plausible wrong ones: the union over the rank window
    (one pass) and L_min's ranks (the ASL_2pass fallback)."""
    ranks = [descending_ranks_naive(s) for s in scores]
    layer = oracle.layer
    union = set()
    for row in ranks[max(0, layer - l_obs + 1) : layer + 1]:
        union |= set(top_ranked_with_window(row, num_keep, window))
    assert sorted(union) != oracle.keep
    if not oracle.fired:
        assert top_ranked_with_window(ranks[l_min], num_keep, window) != oracle.keep


def assert_engine_matches(model, tokenizer, prompt: torch.Tensor, name: str, params: dict, oracle) -> None:
    """The engine's prefill selects the oracle's layer and set S and reports its rho trace (taken from
    ``generate`` when a one-pass prefill never selected, the only case a trace does not carry it)."""
    method = build_method(name, **params)
    engine = engine_selection(trace_prefill(model, prompt, method))
    assert engine.layer == oracle.layer
    assert engine.keep == oracle.keep
    if engine.keep is not None:
        num_keep = params.get("select_k") or params["kv_budget"]
        assert len(engine.keep) == min(num_keep, prompt.shape[1])
    rel_variance = engine.rel_variance
    if not rel_variance:
        result = generate(model, tokenizer, prompt[0], method, max_new_tokens=1)
        assert result.selection_layer == oracle.layer
        rel_variance = result.rel_variance
    assert sorted(rel_variance) == sorted(oracle.trace)
    for checked, rho in oracle.trace.items():
        assert abs(rel_variance[checked] - rho) <= RHO_ATOL + oracle.slack[checked], (checked, rho)


# --- tiny random models -----------------------------------------------------------------------------------

TINY_N = 160
# L_min = 1 with L_obs = 3: the reference window of layer 1 is clipped to layers 0-1 (engine-decisions.md)
TINY_RULE = dict(tau=0.8, l_min=1, l_obs=3, window=8)
TINY_CASES = [  # (model, prompt seed, fires at): chosen so that both outcomes occur on both architectures
    ("tiny_llama", 102, 4),
    ("tiny_llama", 101, None),
    ("tiny_qwen2", 100, 5),
    ("tiny_qwen2", 102, None),
]


@pytest.fixture(scope="module")
def tiny_scores(request):
    cache: dict[tuple[str, int], tuple[torch.Tensor, list[torch.Tensor]]] = {}

    def get(model_name: str, seed: int):
        if (model_name, seed) not in cache:
            model = request.getfixturevalue(model_name)
            prompt = random_prompt(TINY_N, model.config.vocab_size, seed)
            cache[model_name, seed] = (prompt, prompt_token_scores(model, prompt, TINY_RULE["window"], 7))
        return cache[model_name, seed]

    return get


@pytest.mark.parametrize("model_name, seed, fires_at", TINY_CASES)
@pytest.mark.parametrize(
    "name, budget",
    [
        ("asl", dict(kv_budget=48, select_k=40)),
        ("asl_fullbefore", dict(kv_budget=40)),
        ("asl_2pass", dict(kv_budget=40)),
    ],
)
def test_engine_rule_equals_oracle_tiny(request, tiny_scores, model_name, seed, fires_at, name, budget):
    """rho trace, layer and S of the engine equal the oracle's; ``asl`` propagates select_k (40), not the
    SnapKV budget (48); ASL_2pass falls back to the last layer when the rule never fires."""
    model = request.getfixturevalue(model_name)
    prompt, scores = tiny_scores(model_name, seed)
    two_pass = name == "asl_2pass"
    num_keep = budget.get("select_k") or budget["kv_budget"]
    oracle = asl_rule_oracle(
        scores, num_keep=num_keep, two_pass=two_pass, tie_rel=1e-6, **{k: TINY_RULE[k] for k in TINY_RULE}
    )
    assert_decisive(oracle, TINY_RULE["tau"])
    assert oracle.fired == (fires_at is not None)
    expected_layer = fires_at if fires_at is not None or not two_pass else model.config.num_hidden_layers - 1
    assert oracle.layer == expected_layer
    if oracle.layer is not None:
        assert_alternatives_differ(scores, oracle, TINY_RULE["l_min"], TINY_RULE["l_obs"], num_keep, 8)
    assert_engine_matches(model, None, prompt, name, dict(TINY_RULE, **budget), oracle)


# --- the embedded SmolLM2-135M on real prompts -------------------------------------------------------------

EMBEDDED_TAU = 0.8
EMBEDDED_CASES = {
    # id: (body tokens, start character, kv_budget, window, fires at) -> N = 341, 741, 1041
    "n341_fires": (300, 0, 128, 32, 18),
    "n741_fires": (700, 40000, 128, 16, 21),
    "n1041_never": (1000, 30000, 256, 32, None),
}
EMBEDDED_METHODS = {
    "n341_fires": ("asl", "asl_2pass"),
    "n741_fires": ("asl_fullbefore", "asl_2pass"),
    "n1041_never": ("asl", "asl_2pass"),
}


@pytest.mark.embedded
@pytest.mark.parametrize("case", sorted(EMBEDDED_CASES))
def test_engine_rule_equals_oracle_embedded(embedded, case):
    """Real attention of the embedded model (L_min 10, L_obs 8, 30 layers): the same tau fires on two prompts
    (at different layers, with different windows) and never on the longest one, where ASL_2pass falls back
    to layer 29's ranks."""
    model, tokenizer = embedded
    body, start, budget, window, fires_at = EMBEDDED_CASES[case]
    prompt = torch.tensor([text_prompt(tokenizer, body, start)])
    scores = prompt_token_scores(model, prompt, window, 7)
    rule = dict(tau=EMBEDDED_TAU, l_min=10, l_obs=8, num_keep=budget, window=window)
    for name in EMBEDDED_METHODS[case]:
        oracle = asl_rule_oracle(scores, two_pass=name == "asl_2pass", **rule)
        assert_decisive(oracle, EMBEDDED_TAU)
        assert oracle.fired == (fires_at is not None)
        assert oracle.layer == (29 if fires_at is None and name == "asl_2pass" else fires_at)
        if oracle.layer is not None:
            assert_alternatives_differ(scores, oracle, 10, 8, budget, window)
        params = dict(kv_budget=budget, window=window, tau=EMBEDDED_TAU, l_min=10, l_obs=8)
        assert_engine_matches(model, tokenizer, prompt, name, params, oracle)
