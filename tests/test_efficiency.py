"""Efficiency benchmark: the FLOP model against hand counts, the KV arithmetic, prompts, and a tiny run."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from asl import build_method
from asl.cost_model import (
    ArchSpec,
    attention_flops,
    full_prefill_flops,
    kv_bytes,
    layer_flops,
    linear_params_per_layer,
)
from asl.efficiency.measure import summarize
from asl.efficiency.prompts import build_prompt_ids
from asl.models import get_model_spec
from asl.models.tiny import build_random_model

TINY = ArchSpec.from_config(
    get_model_spec("tiny_llama").random_config
)  # h64, 4/2 heads, d16, I128, V512, 8 layers


def test_arch_from_random_config():
    assert TINY == ArchSpec(
        num_layers=8, hidden=64, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=512
    )


def test_layer_flops_hand_count():
    # q 64*64 + k 64*32 + v 64*32 + o 64*64 + gate/up/down 3*64*128 = 36864 weights -> 73728 FLOPs/token
    assert linear_params_per_layer(TINY) == 36864
    # n = 10: 10*10+... causal pairs = 55; QK^T + AV = 2 * 2*d = 64 FLOPs per pair and head; 4 heads
    assert attention_flops(TINY, 10) == 55 * 64 * 4 == 14080
    assert layer_flops(TINY, 10) == 10 * 73728 + 14080
    assert layer_flops(TINY, 0) == 0


def flops(name: str, n: int, layer: int | None = None, **params) -> int:
    """The ideal prefill FLOPs a method configuration states for itself on TINY."""
    return build_method(name, **params).prefill_flops(TINY, n, layer)


def test_method_flops_hand_count():
    n, k, head = 100, 20, 2 * 64 * 512
    full_layer = 100 * 73728 + 2 * 16 * 4 * 100 * 101
    small_layer = 20 * 73728 + 2 * 16 * 4 * 20 * 21
    full = 8 * full_layer + head
    assert full_prefill_flops(TINY, n) == full == flops("fullkv", n)
    assert flops("snapkv", n, kv_budget=k, window=8) == full
    # one-shot at layer 4: layers 0..4 on N, layers 5..7 on k
    for name in ("fastkv", "asl", "fastkv_fullbefore", "asl_fullbefore"):
        assert flops(name, n, 4, kv_budget=k, window=8) == 5 * full_layer + 3 * small_layer + head
    # GemFilter: layers 0..3 on N, then all 8 layers on k (its filter layer when no layer is reported)
    assert flops("gemfilter", n, None, kv_budget=k, filter_layer=3) == 4 * full_layer + 8 * small_layer + head
    assert flops("asl_2pass", n, 5, kv_budget=k, window=8) == 6 * full_layer + 8 * small_layer + head
    assert flops("asl_2pass", n, None, kv_budget=k, window=8) == 8 * full_layer + 8 * small_layer + head
    # no pruning when N <= k (one-pass); two-pass still prefills twice
    assert flops("fastkv", 20, 4, kv_budget=20, window=8) == full_prefill_flops(TINY, 20)
    assert (
        flops("gemfilter", 20, None, kv_budget=64, filter_layer=3) == 4 * small_layer + 8 * small_layer + head
    )
    assert build_method("gemfilter", filter_layer=3).layer_calls(8, None) == 12
    assert build_method("asl_2pass").layer_calls(8, None) == 16
    assert build_method("asl").layer_calls(8, 4) == 8


def test_linear_params_match_real_model():
    model = build_random_model(get_model_spec("tiny_llama").random_config)
    linears = [m for m in model.model.layers[0].modules() if isinstance(m, torch.nn.Linear)]
    assert sum(m.weight.numel() for m in linears) == linear_params_per_layer(TINY)


def test_llama8b_paper_ratios_shape():
    """Llama-3.1-8B at 128k, k=2048: ideal ratios close to (layer+1)/32, as the paper's Table 4 suggests."""
    shapes = get_model_spec("llama31_8b_ul").random_config
    arch = ArchSpec.from_config(shapes)
    with torch.device("meta"):
        model = build_random_model(shapes)
    linears = [m for m in model.model.layers[0].modules() if isinstance(m, torch.nn.Linear)]
    assert sum(m.weight.numel() for m in linears) == linear_params_per_layer(arch)
    n, full = 131072, full_prefill_flops(arch, 131072)
    assert build_method("fastkv").prefill_flops(arch, n, 15) / full == pytest.approx(16 / 32, abs=0.01)
    assert build_method("gemfilter", filter_layer=13).prefill_flops(arch, n, None) / full == pytest.approx(
        14 / 32, abs=0.01
    )


def test_kv_arithmetic():
    assert kv_bytes(TINY, [10] * 8, 4) == 2 * 16 * 2 * 4 * 80
    lengths = {
        name: build_method(name, **params).kv_lengths(100, 8, layer)
        for name, params, layer in [
            ("fullkv", {}, None),
            ("snapkv", dict(kv_budget=32, window=8, uncompressed_layers=()), None),
            ("fastkv", dict(kv_budget=48, window=8), 4),
            ("asl_fullbefore", dict(kv_budget=32, window=8), 4),
            ("asl_fullbefore", dict(kv_budget=32, window=8), None),
            ("gemfilter", dict(kv_budget=32), 3),
        ]
    }
    assert lengths["fullkv"] == [100] * 8
    assert lengths["snapkv"] == [32] * 8
    assert (
        build_method("snapkv", kv_budget=32, window=8, uncompressed_layers=[0]).kv_lengths(100, 8, None)
        == [100] + [32] * 7
    )
    assert lengths["fastkv"] == [48] * 8
    assert (
        build_method("asl_fullbefore", kv_budget=32, window=8).kv_lengths(100, 8, 4) == [100] * 5 + [32] * 3
    )
    assert build_method("asl_fullbefore", kv_budget=32, window=8).kv_lengths(100, 8, None) == [100] * 8
    assert lengths["gemfilter"] == [32] * 8
    assert build_method("gemfilter", kv_budget=32).kv_lengths(20, 8, 3) == [20] * 8


def test_summarize_and_prompts():
    s = summarize([1.0, 2.0, 3.0])
    assert s["median"] == 2.0 and s["ci_lo"] < 2.0 < s["ci_hi"]
    assert math.isnan(summarize([1.0])["ci_lo"])
    ids, source = build_prompt_ids("random", 50, 512, seed=3)
    assert len(ids) == 50 and source == "random_ids" and len(set(ids)) > 10
    from transformers import PreTrainedTokenizerFast  # noqa: F401

    from asl.efficiency.settings import fallback_tokenizer

    tok = fallback_tokenizer()
    if tok is not None:
        ids, source = build_prompt_ids("niah", 300, 512, None, tok, seed=1)
        assert len(ids) == 300 and max(ids) < 512 and source.startswith("niah")


def bench_settings(*overrides: str):
    """configs/bench.yaml composed with overrides, as scripts/bench_efficiency.py does."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from asl.efficiency.settings import settings_from_config
    from asl.paths import CONFIG_DIR

    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        cfg = compose("bench", overrides=list(overrides))
    return settings_from_config(OmegaConf.to_container(cfg, resolve=True))


def test_bench_settings_profile_and_overrides():
    s = bench_settings("model=llama31_8b_ul", "lengths=[32768,131072]", "repeats=2")
    assert s.profile == "gpu" and s.lengths == [32768, 131072] and s.repeats == 2 and s.warmups == 2
    assert s.weights == "random" and s.force_layer == 24 and s.spec.random_config["hidden_size"] == 4096
    from asl.methods import list_methods

    assert s.methods == list_methods()  # every method configuration, a new one included, with no edit
    with pytest.raises(ValueError, match="unknown method"):
        bench_settings("methods=[fullkv,h2o]")


def test_tiny_bench_end_to_end(tmp_path):
    from asl.efficiency.bench import run
    from asl.efficiency.rebuild import rebuild

    s = bench_settings(
        "model=tiny_llama", f"out_dir={tmp_path}", "lengths=[96]", "repeats=2", "decode_steps=3"
    )
    rows, out = run(s)
    with (out / "efficiency.csv").open() as fh:
        table = list(csv.DictReader(fh))
    methods = {r["method"] for r in table}
    assert set(s.methods) <= methods
    assert "fastkv_forced[asl]" in methods and "fastkv_forced[asl_fullbefore]" in methods
    for col in (
        "ttft_ratio_vs_fullkv",
        "ideal_ttft_ratio",
        "measured_over_ideal",
        "monitor_overhead",
        "ttft_ci95_lo_s",
        "method_config",
        "decode_ops_per_layer",
    ):
        assert col in table[0]
    assert all(0 < float(r["decode_ops_per_layer"]) <= 20 for r in table)  # the lean static step (issue 18)
    assert "aten ops per layer" in (out / "efficiency.md").read_text()
    for r in rows:
        assert r["kv_bytes_ok"] and r["kv_lengths_ok"], r["method"]
        assert r["layers_run"] == r["layers_expected"], r["method"]
        assert r["new_tokens"] == str(s.decode_steps)
    asl = next(r for r in rows if r["method"] == "asl")
    assert asl["selection_layer"] == 5 and not math.isnan(asl["monitor_overhead"])
    summary = (out / "efficiency.md").read_text().split("## Against the paper")[0]
    assert summary.count("| 96 |") == len(rows)
    assert (out / "meta.json").is_file()
    rebuilt = {r["method"]: r for r in rebuild(out)}
    for r in rows:
        assert rebuilt[r["method"]]["ttft_s"] == r["ttft_s"]
        assert rebuilt[r["method"]]["kv_bytes_ok"] == r["kv_bytes_ok"]
