"""Whether the selection rule fired, as the engine reports it and the runner records it: "never" is
counted the same way for ASL and ASL_2pass (whose fallback to the last layer is not a firing)."""

from __future__ import annotations

import pytest

from asl import build_method, generate
from asl.harness.experiment import run
from asl.results.store import read_records
from tests.reference import random_prompt
from tests.runner_fakes import FakeBackend, make_cfg

K, N = 40, 140
RULE = dict(kv_budget=K, window=8, l_min=2, l_obs=2)


def _generate(model, name, **kwargs):
    prompt = random_prompt(N, model.config.vocab_size, seed=81)[0]
    return generate(model, None, prompt, build_method(name, **kwargs), max_new_tokens=2, ignore_eos=True)


def test_two_pass_fallback_is_never_fired(tiny_llama):
    res = _generate(tiny_llama, "asl_2pass", **{**RULE, "tau": 1e-12})
    assert res.selection_layer == tiny_llama.config.num_hidden_layers - 1 and res.selection_fired is False


def test_asl_never_fired_has_no_layer(tiny_llama):
    res = _generate(tiny_llama, "asl", **{**RULE, "tau": 1e-12})
    assert res.selection_layer is None and res.selection_fired is False


@pytest.mark.parametrize("name", ["asl", "asl_2pass"])
def test_a_rule_that_fires_says_so(tiny_llama, name):
    res = _generate(tiny_llama, name, **{**RULE, "tau": 1.0})
    assert res.selection_fired is True and res.selection_layer < tiny_llama.config.num_hidden_layers - 1


@pytest.mark.parametrize(
    "name, fired", [("fullkv", None), ("snapkv", None), ("fastkv", True), ("gemfilter", True)]
)
def test_methods_without_a_rule(tiny_llama, name, fired):
    kwargs = {} if name == "fullkv" else {"kv_budget": K}
    assert _generate(tiny_llama, name, **kwargs).selection_fired is fired


def test_the_runner_records_the_flag(tmp_path):
    run_dir = run(make_cfg(f"results_dir={tmp_path}"), FakeBackend().backend())
    recs = read_records(run_dir / "predictions.jsonl")
    assert {r.selection_fired for r in recs} == {True} and {r.selection_layer for r in recs} == {3}
