"""Efficiency benchmark: the FLOP model against hand counts, the KV arithmetic, prompts, and a tiny run."""

from __future__ import annotations

import csv
import importlib.util
import math

import pytest
import torch

from asl.efficiency.flops import (
    ArchSpec,
    attention_flops,
    expected_layer_calls,
    ideal_ttft_ratio,
    layer_flops,
    linear_params_per_layer,
    method_prefill_flops,
)
from asl.efficiency.kvcheck import expected_kv_lengths, kv_bytes
from asl.efficiency.measure import summarize
from asl.efficiency.prompts import build_prompt_ids
from asl.models import get_model_spec
from asl.models.tiny import build_random_model

TINY = ArchSpec.from_config(
    get_model_spec("tiny_llama").tiny_config
)  # h64, 4/2 heads, d16, I128, V512, 8 layers


def test_arch_from_tiny_config():
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


def test_method_flops_hand_count():
    n, k, head = 100, 20, 2 * 64 * 512
    full_layer = 100 * 73728 + 2 * 16 * 4 * 100 * 101
    small_layer = 20 * 73728 + 2 * 16 * 4 * 20 * 21
    full = 8 * full_layer + head
    assert method_prefill_flops(TINY, "fullkv", n) == full
    assert method_prefill_flops(TINY, "snapkv", n, k=k) == full
    # one-shot at layer 4: layers 0..4 on N, layers 5..7 on k
    assert (
        method_prefill_flops(TINY, "fastkv", n, k=k, selection_layer=4)
        == 5 * full_layer + 3 * small_layer + head
    )
    assert (
        method_prefill_flops(TINY, "asl", n, k=k, selection_layer=4)
        == 5 * full_layer + 3 * small_layer + head
    )
    # GemFilter: layers 0..3 on N, then all 8 layers on k
    assert (
        method_prefill_flops(TINY, "gemfilter", n, k=k, filter_layer=3)
        == 4 * full_layer + 8 * small_layer + head
    )
    assert (
        method_prefill_flops(TINY, "asl_2pass", n, k=k, selection_layer=5)
        == 6 * full_layer + 8 * small_layer + head
    )
    # no pruning when N <= k (one-pass); two-pass still prefills twice
    assert method_prefill_flops(TINY, "fastkv", 20, k=20, selection_layer=4) == method_prefill_flops(
        TINY, "fullkv", 20
    )
    assert (
        method_prefill_flops(TINY, "gemfilter", 20, k=64, filter_layer=3)
        == 4 * small_layer + 8 * small_layer + head
    )
    assert ideal_ttft_ratio(TINY, "fullkv", n) == 1.0
    assert ideal_ttft_ratio(TINY, "gemfilter", n, k=k, filter_layer=3) < ideal_ttft_ratio(
        TINY, "fastkv", n, k=k, selection_layer=4
    )
    assert expected_layer_calls(TINY, "gemfilter", None, 3) == 12
    assert expected_layer_calls(TINY, "asl_2pass", None, None) == 16
    with pytest.raises(ValueError):
        method_prefill_flops(TINY, "bogus", n, k=k)


def test_linear_params_match_real_model():
    model = build_random_model(get_model_spec("tiny_llama").tiny_config)
    linears = [m for m in model.model.layers[0].modules() if isinstance(m, torch.nn.Linear)]
    assert sum(m.weight.numel() for m in linears) == linear_params_per_layer(TINY)


def test_llama8b_paper_ratios_shape():
    """Llama-3.1-8B at 128k, k=2048: ideal ratios close to (layer+1)/32, as the paper's Table 4 suggests."""
    import yaml

    from asl.efficiency.setup import DEFAULT_CONFIG

    arch = ArchSpec.from_config(yaml.safe_load(DEFAULT_CONFIG.read_text())["models"]["llama31_8b_ul"]["arch"])
    with torch.device("meta"):
        model = build_random_model(
            yaml.safe_load(DEFAULT_CONFIG.read_text())["models"]["llama31_8b_ul"]["arch"]
        )
    linears = [m for m in model.model.layers[0].modules() if isinstance(m, torch.nn.Linear)]
    assert sum(m.weight.numel() for m in linears) == linear_params_per_layer(arch)
    n = 131072
    assert ideal_ttft_ratio(arch, "fastkv", n, k=2048, selection_layer=15) == pytest.approx(16 / 32, abs=0.01)
    assert ideal_ttft_ratio(arch, "gemfilter", n, k=2048, filter_layer=13) == pytest.approx(14 / 32, abs=0.01)


def test_kv_arithmetic():
    cfg = {"kv_budget": 32, "select_k": None, "kv_before": "snapkv"}
    assert kv_bytes(TINY, [10] * 8, 4) == 2 * 16 * 2 * 4 * 80
    assert expected_kv_lengths("fullkv", {}, 100, 8, None) == [100] * 8
    assert expected_kv_lengths("snapkv", cfg, 100, 8, None) == [32] * 8
    assert (
        expected_kv_lengths("snapkv", {**cfg, "uncompressed_layers": [0]}, 100, 8, None) == [100] + [32] * 7
    )
    assert expected_kv_lengths("fastkv", {**cfg, "kv_budget": 48}, 100, 8, 4) == [48] * 8
    assert expected_kv_lengths("asl", {**cfg, "kv_before": "full"}, 100, 8, 4) == [100] * 5 + [32] * 3
    assert expected_kv_lengths("gemfilter", cfg, 100, 8, None) == [32] * 8
    assert expected_kv_lengths("gemfilter", cfg, 20, 8, None) == [20] * 8


def test_summarize_and_prompts():
    s = summarize([1.0, 2.0, 3.0])
    assert s["median"] == 2.0 and s["ci_lo"] < 2.0 < s["ci_hi"]
    assert math.isnan(summarize([1.0])["ci_lo"])
    ids, source = build_prompt_ids("random", 50, 512, seed=3)
    assert len(ids) == 50 and source == "random_ids" and len(set(ids)) > 10
    from transformers import PreTrainedTokenizerFast  # noqa: F401

    from asl.efficiency.setup import fallback_tokenizer

    tok = fallback_tokenizer()
    if tok is not None:
        ids, source = build_prompt_ids("niah", 300, 512, None, tok, seed=1)
        assert len(ids) == 300 and max(ids) < 512 and source.startswith("niah")


ENGINE = importlib.util.find_spec("asl.engine.generate") is not None


@pytest.mark.skipif(not ENGINE, reason="engine not importable yet")
def test_tiny_bench_end_to_end(tmp_path):
    from asl.efficiency.bench import run
    from asl.efficiency.setup import load_settings
    from scripts.bench_efficiency import main  # noqa: F401 (script importable)

    s = load_settings("tiny_llama", "tiny", out_dir=str(tmp_path), lengths=[96], repeats=2, decode_steps=3)
    rows, out = run(s)
    with (out / "efficiency.csv").open() as fh:
        table = list(csv.DictReader(fh))
    methods = {r["method"] for r in table}
    assert {"fullkv", "snapkv", "gemfilter", "fastkv", "asl", "asl_2pass"} <= methods
    assert any(m.startswith("fastkv_forced[") for m in methods)
    for col in (
        "ttft_ratio_vs_fullkv",
        "ideal_ttft_ratio",
        "measured_over_ideal",
        "monitor_overhead",
        "ttft_ci95_lo_s",
    ):
        assert col in table[0]
    for r in rows:
        assert r["kv_bytes_ok"] and r["kv_lengths_ok"], r["method"]
        assert r["layers_run"] == r["layers_expected"], r["method"]
        assert r["new_tokens"] == str(s.decode_steps)
    asl = next(r for r in rows if r["method"] == "asl")
    assert asl["selection_layer"] == 5 and not math.isnan(asl["monitor_overhead"])
    summary = (out / "efficiency.md").read_text().split("## Against the paper")[0]
    assert summary.count("| 96 |") == len(rows)
    assert (out / "meta.json").is_file()
    from asl.efficiency.rebuild import rebuild

    rebuilt = {r["method"]: r for r in rebuild(out)}
    for r in rows:
        assert rebuilt[r["method"]]["ttft_s"] == r["ttft_s"]
        assert rebuilt[r["method"]]["kv_bytes_ok"] == r["kv_bytes_ok"]
