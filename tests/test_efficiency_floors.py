"""Floors, the prefill memory model, predictions and the GPU check's CPU part (issue 11)."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest
import torch

from asl import build_method
from asl.cost_model import ArchSpec, decode_weight_bytes, kv_bytes, prefill_working_bytes, weight_params
from asl.efficiency.device import DeviceRates
from asl.efficiency.floors import FloorInputs, prediction_row, tpot_floor
from asl.models import get_model_spec
from asl.models.tiny import build_random_model
from asl.paths import REPO_ROOT
from asl.results.paper import paper_kv_gb
from tests.test_efficiency import TINY, bench_settings

H200 = DeviceRates("H200", copy_bytes_per_s=4.3e12, matmul_flops_per_s=7.88e14, matmul_dtype="bfloat16",
                   memory_bytes=150754820096, source="assumed")  # fmt: skip
LLAMA = ArchSpec.from_config(get_model_spec("llama31_8b_ul").random_config)


def llama_inputs(decode_steps: int = 128) -> FloorInputs:
    weights = weight_params(LLAMA) * 2
    return FloorInputs(LLAMA, 2, weights, decode_weight_bytes(LLAMA, 2), decode_steps, 8192, H200)


def test_weight_count_matches_real_model():
    model = build_random_model(get_model_spec("tiny_llama").random_config)
    assert sum(p.numel() for p in model.parameters()) == weight_params(TINY)
    with torch.device("meta"):
        big = build_random_model(get_model_spec("llama31_8b_ul").random_config)
    assert sum(p.numel() for p in big.parameters()) == weight_params(LLAMA)


def test_working_set_hand_count():
    """The chunked prefill's working set, counted by hand for TINY (h 64, Hq 4, Hkv 2, d 16, I 128): the
    largest of the norm's moment, attention's, the MLP's (sub-chunked) and window scoring's."""
    n, b = 1000, 4
    whole_layer = n * b * (64 + 2 * 2 * 16)  # residual + one layer's K/V scratch
    norm = lambda c: c * 64 * (8 + b)  # noqa: E731 - RMSNorm's fp32 upcast (8 h bytes) and its output
    # attention chunk: 3h + 3 Hq d + 4 Hkv d + 2 d = 192 + 192 + 128 + 32 elements, the fp32 LSE (4 Hq bytes)
    attention = lambda c: c * b * 544 + c * 4 * 4  # noqa: E731
    # MLP: the chunk's normed input and output (2h), one sub-chunk's gate, up, product and output (3I + h)
    mlp = lambda c, s: c * b * 2 * 64 + s * b * (3 * 128 + 64)  # noqa: E731
    moments = lambda c, s: max(norm(c), attention(c), mlp(c, s))  # noqa: E731
    assert prefill_working_bytes(TINY, n, b, None) == whole_layer + moments(n, n)
    assert prefill_working_bytes(TINY, n, b, 40) == whole_layer + moments(40, 40)
    # window scoring: one KV head's fp32 logits and softmax (2 G w n) and the histogram (Hq n)
    scoring = 4 * n * (2 * 2 * 8 + 4)
    assert prefill_working_bytes(TINY, n, b, 40, window=8) == whole_layer + max(moments(40, 40), scoring)
    # above 32 chunks the chunk grows to n / 32 (100 tokens) while the MLP keeps its 40-token sub-chunks
    long = 3200
    assert prefill_working_bytes(TINY, long, b, 40) == long * b * 128 + moments(100, 40)


def test_working_set_is_bounded_by_the_chunk():
    """Beyond the residual and one layer's K/V, the working set is one chunk's: 4096 tokens up to 128K,
    n / 32 beyond (at most 32 chunks per layer)."""
    per_token = (LLAMA.hidden + 2 * LLAMA.kv_heads * LLAMA.head_dim) * 2

    def chunk_term(n: int, chunk: int = 4096) -> int:
        return prefill_working_bytes(LLAMA, n, 2, chunk) - n * per_token

    assert chunk_term(65536) == chunk_term(131072) == chunk_term(4096)
    # at 1M a chunk is 32768 tokens; its MLP runs in 4096-token sub-chunks, so the chunk's moments are at
    # most 8x the 4096-token ones and below an MLP that took the whole chunk at once
    assert chunk_term(32768, 32768) == 8 * chunk_term(4096)
    assert chunk_term(4096) < chunk_term(1048576) < chunk_term(32768, 32768)


def test_llama_floors_match_the_issue():
    """Issue 11: ~7.5 ms FullKV / ~3.6 ms at 2048 entries per token at 128K, ~8.0 s FullKV prefill."""
    f = llama_inputs()
    n = 131072
    full_kv = kv_bytes(LLAMA, [n] * 32, 2)
    assert tpot_floor(full_kv, f) == pytest.approx(7.5e-3, rel=0.02)
    assert tpot_floor(kv_bytes(LLAMA, [2048] * 32, 2), f) == pytest.approx(3.6e-3, rel=0.02)
    full = prediction_row(build_method("fullkv"), n, f, efficiency=1.0)
    assert full["ttft_floor_s"] == pytest.approx(8.0, rel=0.02) and full["kv_cache_bytes"] == full_kv
    fast = prediction_row(build_method("fastkv", tsp_layer=15), n, f, efficiency=1.0)
    assert fast["ttft_floor_s"] / full["ttft_floor_s"] == pytest.approx(0.50, abs=0.01)


def test_long_context_predictions_fit_one_h200():
    """Every method fits at 512K (FullKV's 64 GiB of KV included); the pruned ones at 1M."""
    f = llama_inputs()
    for name in ("fullkv", "snapkv", "gemfilter", "fastkv", "asl", "asl_2pass", "pyramidkv", "streamingllm"):
        method = build_method(name, **({"force_layer": 24} if name.startswith("asl") else {}))
        row = prediction_row(
            method.resolved({"tsp_layer": 15, "filter_layer": 13, "l_min": 10}, 32), 524288, f, 0.68
        )
        assert row["fits"], name
        if name != "fullkv":
            assert prediction_row(
                method.resolved({"tsp_layer": 15, "filter_layer": 13, "l_min": 10}, 32), 1048576, f, 0.68
            )["fits"]
    assert not prediction_row(build_method("fullkv"), 1048576, f, 0.68)["fits"]


def test_predict_only_script(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "bench_efficiency.py"), "predict=true", "model=qwen25_7b",
         f"out_dir={tmp_path}", "methods=[fullkv,asl]"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "predict.md").read_text()
    assert "exceeds qwen25_7b's max_context: predicted at 1010000" in text
    rows = list(csv.DictReader((tmp_path / "predict.csv").open()))
    assert {r["context_length"] for r in rows} == {"131072", "262144", "524288", "1010000"}
    assert all(r["fits"] == "True" for r in rows)


def test_bench_settings_check_engine_options():
    s = bench_settings("model=tiny_llama", "decode_mode=static", "mlp_chunk=64")
    assert s.decode_mode == "static" and s.mlp_chunk == 64
    with pytest.raises(ValueError, match="decode_mode must be"):
        bench_settings("model=tiny_llama", "decode_mode=graph")
    with pytest.raises(ValueError, match="mlp_chunk must be"):
        bench_settings("model=tiny_llama", "mlp_chunk=-1")
    assert bench_settings().repeats >= 5  # the CPU profile (methods.md §10)


def test_tiny_bench_has_floors_and_phase_peaks(tmp_path):
    from asl.efficiency.bench import run
    from asl.efficiency.rebuild import rebuild

    s = bench_settings("model=tiny_llama", f"out_dir={tmp_path}", "lengths=[96]", "repeats=1", "decode_steps=3",
                       "methods=[fullkv,snapkv]", "decode_mode=static")  # fmt: skip
    rows, out = run(s)
    for r in rows:
        assert r["tpot_floor_s"] > 0 and r["ttft_floor_s"] > 0 and r["decode_mode"] == "static"
        assert r["tpot_over_floor"] == r["tpot_s"] / r["tpot_floor_s"]
        assert r["prefill_peak_bytes"] == r["prefill_peak_bytes"]  # measured (not NaN)
        assert r["peak_predicted_bytes"] > r["kv_cache_bytes"] and r["attention_kernel"] == "sdpa"
    report = (out / "efficiency.md").read_text()
    assert "## Memory per phase" in report and "TPOT/floor" in report and "(an H200 goal)" in report
    rebuilt = {r["method"]: r for r in rebuild(out)}
    assert all(math.isclose(rebuilt[r["method"]]["tpot_floor_s"], r["tpot_floor_s"]) for r in rows)


def test_paper_table7_lookup():
    assert paper_kv_gb("llama31_8b_ul", "fullkv", 131072, None) == 17.1
    assert paper_kv_gb("qwen25_7b", "asl", 131072, 2048) == 0.2
    assert paper_kv_gb("llama31_8b_ul", "asl", 65536, 2048) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: make gpu-check runs its CUDA sections")
def test_gpu_check_cpu_part(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gpu_check.py"), f"out_dir={tmp_path}",
         "cpu_models=[tiny_llama]", "predict_models=[llama31_8b_ul]"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "no CUDA: skipped" in summary and "Predicted: llama31_8b_ul" in summary
    # the CPU section runs every method in every decode mode on a tiny model (it crashed unexercised)
    assert "FAIL 0," in summary and summary.count("tiny_llama float32 on cpu") >= 10
