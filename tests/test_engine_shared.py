"""One prefill for many methods (``generate_many`` / ``prefill_group``): every method's result is the one it
gets alone, bit for bit in fp32, for every row of the methods-under-test table, Full-before variants, forced
layers and tau values that fire early, late and never."""

from __future__ import annotations

import sys

import pytest
import torch

import asl.engine.layer_loop as layer_loop
from asl import build_method, generate
from asl.engine.attention import engine_attention_enabled, kernel_for
from asl.engine.cache import PrunedKVCache
from asl.engine.generate import generate_many, resolve_method
from asl.engine.layer_loop import Member, prefill, prefill_group
from tests.methods_under_test import METHODS
from tests.reference import random_prompt

STEPS = 5


def group(extra: bool = True):
    """Every method under test, plus forced layers and tau values that fire early, late and never."""
    methods = [build_method(name, **METHODS[name].small) for name in sorted(METHODS)]
    if extra:
        rule = METHODS["asl"].small
        methods += [
            build_method("asl", **rule, force_layer=1),
            build_method("asl", **rule, tau=1.0),  # fires at the first layer it may
            build_method("asl", **rule, tau=0.0001),  # never fires
            build_method("asl_2pass", **rule, tau=0.0001),  # falls back to the last layer
            build_method("fastkv", **METHODS["fastkv"].small, tsp_layer=6),
        ]
    return methods


def same(alone, shared) -> None:
    assert shared.token_ids == alone.token_ids
    assert shared.kv_lengths == alone.kv_lengths
    assert shared.selection_layer == alone.selection_layer
    assert shared.selection_fired == alone.selection_fired
    assert shared.rel_variance == alone.rel_variance
    assert shared.layers_run == alone.layers_run
    assert shared.kv_cache_bytes == alone.kv_cache_bytes


def test_generate_many_equals_separate_runs(tiny_model):
    prompt = random_prompt(211, tiny_model.config.vocab_size, seed=17)[0]
    methods = group()
    kw = dict(max_new_tokens=STEPS, ignore_eos=True, decode_mode="eager", mlp_chunk=32)
    shared = generate_many(tiny_model, None, prompt, methods, **kw)
    fired = set()
    for method, result in zip(methods, shared, strict=True):
        same(generate(tiny_model, None, prompt, method, **kw), result)
        assert result.shared_prefill == len(methods) and result.ttft_s is None and result.tpot_s is None
        fired.add(result.selection_fired)
    assert fired == {None, True, False}  # selection fired, never fired and no selection all in the group


def _caches(model, prompt, methods, shared: bool):
    kernel = kernel_for("sdpa")
    num_layers = model.config.num_hidden_layers
    methods = [resolve_method(m, model) for m in methods]
    members = [
        Member(m.new_session(num_layers, prompt.shape[0]), PrunedKVCache(num_layers, 0)) for m in methods
    ]
    ids = prompt.unsqueeze(0)
    for member in members:
        member.session.bind(model)
    with torch.inference_mode(), engine_attention_enabled(model):
        if shared:
            prefill_group(model, ids, members, kernel, 32)
        else:
            for member in members:
                out = prefill(model, ids, member.session, member.cache, kernel, 32)
                member.logits, member.stop_keep = out.logits, out.stop_keep
    for member in members:
        member.session.finish()
    return members


def test_kept_entries_and_logits_are_bit_identical(tiny_model):
    """The caches (every kept key and value, every layer and KV head) and the last logits, bitwise."""
    prompt = random_prompt(190, tiny_model.config.vocab_size, seed=3)[0]
    methods = group()
    alone, together = _caches(tiny_model, prompt, methods, False), _caches(tiny_model, prompt, methods, True)
    for a, b in zip(alone, together, strict=True):
        assert (a.logits is None) == (b.logits is None)
        if a.logits is not None:
            assert torch.equal(a.logits, b.logits)
        if a.stop_keep is not None:
            assert torch.equal(a.stop_keep, b.stop_keep)
        for ka, kb, va, vb in zip(a.cache.keys, b.cache.keys, a.cache.values, b.cache.values, strict=True):
            assert (ka is None) == (kb is None)
            if ka is not None:
                assert torch.equal(ka, kb) and torch.equal(va, vb)


def test_forks_are_recorded(tiny_llama):
    prompt = random_prompt(190, 512, seed=3)[0]
    names = ["fullkv", "fastkv", "gemfilter"]
    methods = [build_method(n, **METHODS[n].small) for n in names]
    results = generate_many(tiny_llama, None, prompt, methods, max_new_tokens=2, ignore_eos=True)
    layers = {n: r.fork_layer for n, r in zip(names, results, strict=True)}
    assert layers == {"fullkv": None, "fastkv": 4, "gemfilter": 3}  # the tiny preset's TSP and filter layers


def test_a_fork_one_layer_off_is_caught(tiny_llama, monkeypatch):
    """The equivalence above fails when a branch starts one layer late (the check can fail)."""
    original = layer_loop.run_layers

    def late(model, hidden, position_ids, members, first, *rest):
        if first > 0 and len(members) == 1 and first + 1 < model.config.num_hidden_layers:
            first += 1
        return original(model, hidden, position_ids, members, first, *rest)

    monkeypatch.setattr(layer_loop, "run_layers", late)
    prompt = random_prompt(190, 512, seed=3)[0]
    methods = [build_method("fullkv"), build_method("fastkv", **METHODS["fastkv"].small)]
    shared = _caches(tiny_llama, prompt, methods, True)
    monkeypatch.setattr(layer_loop, "run_layers", original)
    alone = _caches(tiny_llama, prompt, methods, False)
    assert torch.equal(shared[0].logits, alone[0].logits)
    assert not torch.equal(shared[1].logits, alone[1].logits)


@pytest.mark.embedded
def test_generate_many_on_the_embedded_model(embedded):
    model, tokenizer = embedded
    prompt = random_prompt(600, model.config.vocab_size, seed=2)[0]
    budget = dict(kv_budget=128, window=16)
    methods = [
        build_method("fullkv"),
        build_method("snapkv", **budget),
        build_method("fastkv", **budget),
        build_method("asl", **budget, tau=0.7),
        build_method("asl_fullbefore", **budget, force_layer=12),
        build_method("gemfilter", kv_budget=128),
        build_method("asl_2pass", **budget, tau=0.7),
    ]
    kw = dict(max_new_tokens=6, ignore_eos=True, decode_mode="eager")
    shared = generate_many(model, tokenizer, prompt, methods, **kw)
    for method, result in zip(methods, shared, strict=True):
        same(generate(model, tokenizer, prompt, method, **kw), result)
        assert result.text == generate(model, tokenizer, prompt, method, **kw).text


@pytest.mark.parametrize("mode", ["eager", "static"])
def test_whole_layer_kv_is_stored_once_per_trunk(tiny_model, mode, monkeypatch):
    """Full KV and the Full-before variants keep trunk layers whole: one buffer per layer, not one per
    method; decoding one after another over the shared buffers gives each method its own tokens."""
    prompt = random_prompt(150, tiny_model.config.vocab_size, seed=5)[0]
    names = ["fullkv", "asl_fullbefore", "fastkv_fullbefore", "snapkv"]
    methods = [build_method(n, **METHODS[n].small) for n in names]
    kw = dict(max_new_tokens=STEPS, ignore_eos=True, decode_mode=mode, mlp_chunk=32)
    members = []
    real = layer_loop.prefill_group

    def spy(model, ids, group_members, *args, **kwargs):
        members.extend(group_members)
        return real(model, ids, group_members, *args, **kwargs)

    monkeypatch.setattr(sys.modules["asl.engine.generate"], "prefill_group", spy)
    shared = generate_many(tiny_model, None, prompt, methods, **kw)
    monkeypatch.undo()
    for method, result in zip(methods, shared, strict=True):
        same(generate(tiny_model, None, prompt, method, **kw), result)
    full, fullbefore = members[0].cache, members[1].cache
    whole = [i for i, n in enumerate(fullbefore.prompt_lengths) if n == full.prompt_lengths[i]]
    assert whole and all(fullbefore.keys[i] is full.keys[i] for i in whole)  # stored once
    assert all(members[3].cache.keys[i] is not full.keys[i] for i in range(len(full.keys)))  # compressed: own
