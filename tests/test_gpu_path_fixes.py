"""Issue 18 item 4 on CPU: the GPU-path fixes that a CPU can see (flash-attn selection, CUDA-graph capture
failure, the peak-memory goal, the allocator setting, the device rates' spread, `fits` on free memory)."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from asl.models.loading import choose_attn_implementation, resolve_attn_implementation

CUDA = torch.device("cuda")  # only a device object: nothing touches CUDA


def fake_flash(monkeypatch, tmp_path, body: str) -> None:
    """A ``flash_attn`` package on sys.path whose __init__ is ``body`` (find_spec finds it)."""
    package = tmp_path / "flash_attn"
    package.mkdir()
    (package / "__init__.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "flash_attn", raising=False)


def test_flash_that_does_not_import_falls_back_to_sdpa(monkeypatch, tmp_path):
    fake_flash(monkeypatch, tmp_path, "raise ImportError('undefined symbol: _ZN3c104cuda9SetDevice')\n")
    assert resolve_attn_implementation("auto", CUDA, torch.bfloat16) == "sdpa"
    choice = choose_attn_implementation("auto", CUDA, torch.bfloat16)
    assert "does not import" in choice.reason and "undefined symbol" in choice.reason


@pytest.mark.parametrize(
    ("version", "why"),
    [("2.3.2", "older than 2.3.3"), ("4.0.0b1", "not FlashAttention-2"), ("", "no __version__")],
)
def test_flash_old_or_not_fa2_falls_back(monkeypatch, tmp_path, version, why):
    fake_flash(monkeypatch, tmp_path, f"__version__ = {version!r}\ndef flash_attn_func(*a, **k): pass\n")
    choice = choose_attn_implementation("auto", CUDA, torch.bfloat16)
    assert choice.implementation == "sdpa" and why in choice.reason


def test_flash_chosen_when_usable_but_never_for_float32(monkeypatch, tmp_path):
    fake_flash(monkeypatch, tmp_path, "__version__ = '2.7.4.post1'\ndef flash_attn_func(*a, **k): pass\n")
    assert resolve_attn_implementation("auto", CUDA, torch.bfloat16) == "flash_attention_2"
    choice = choose_attn_implementation("auto", CUDA, torch.float32)
    assert choice.implementation == "sdpa" and "float32" in choice.reason
    assert resolve_attn_implementation("auto", torch.device("cpu"), torch.bfloat16) == "sdpa"
    assert choose_attn_implementation("flash_attention_2", CUDA, torch.float32).reason == "requested"


# -- CUDA-graph capture failure (a capture that raises, on CPU) ---------------------------------------

STEPS = 6


def _generate(model, name: str, prompt, mode: str):
    from asl import build_method, generate
    from tests.methods_under_test import METHODS

    method = build_method(name, **METHODS[name].small)
    return generate(model, None, prompt, method, max_new_tokens=STEPS, ignore_eos=True, decode_mode=mode)


def test_failed_capture_falls_back_is_not_timed_and_not_retried(monkeypatch):
    from asl import load_model
    from asl.engine import decoding, graphs
    from tests.reference import random_prompt

    model, _ = load_model("tiny_llama")
    attempts = []

    def broken_capture(step, device):
        attempts.append(1)
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(graphs, "graph_capture_supported", lambda device: True)
    monkeypatch.setattr(graphs, "capture_graph", broken_capture)
    times = []
    real_decode = decoding.decode

    def recording_decode(*args, **kwargs):
        out = real_decode(*args, **kwargs)
        times.append(out)
        return out

    monkeypatch.setattr(importlib.import_module("asl.engine.generate"), "decode", recording_decode)
    prompt = random_prompt(120, model.config.vocab_size, seed=23)[0]
    eager = _generate(model, "snapkv", prompt, "eager")
    first = _generate(model, "snapkv", prompt, "static")
    second = _generate(model, "snapkv", prompt, "static")
    assert first.token_ids == eager.token_ids == second.token_ids
    assert not first.decode_graph and "capture failed: RuntimeError" in first.decode_graph_status
    assert len(attempts) == 1 and "not retried" in second.decode_graph_status  # memo on the model
    static_runs = [out for out in times if out.graph_status]
    # warm-up + failed capture (with its eager step) are setup: the other 5 - 2 steps are TPOT
    assert [len(out.step_times) for out in static_runs] == [STEPS - 3, STEPS - 1]
    assert static_runs[0].setup_s > 0 and static_runs[1].setup_s == 0
    fresh, _ = load_model("tiny_llama")  # the memo belongs to the model object, not the process
    assert "capture failed" in _generate(fresh, "snapkv", prompt, "static").decode_graph_status


def test_out_of_memory_during_capture_is_retried(monkeypatch):
    from asl import load_model
    from asl.engine import graphs
    from tests.reference import random_prompt

    model, _ = load_model("tiny_llama")
    attempts = []

    def oom(step, device):
        attempts.append(1)
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(graphs, "graph_capture_supported", lambda device: True)
    monkeypatch.setattr(graphs, "capture_graph", oom)
    prompt = random_prompt(60, model.config.vocab_size, seed=3)[0]
    for _ in range(2):
        assert "OutOfMemoryError" in _generate(model, "fullkv", prompt, "static").decode_graph_status
    assert len(attempts) == 2


# -- the peak-memory goal compares with the project's memory model, not weights + KV + 4 GB -----------


def _llama_floor_rows(extra_gb: float):
    from asl.cost_model import ArchSpec, kv_entry_bytes, prefill_working_bytes, weight_params
    from asl.efficiency.device import DeviceRates
    from asl.efficiency.floors import FloorInputs, predicted_peak
    from asl.efficiency.report_floors import floor_goals

    arch = ArchSpec(32, 4096, 32, 8, 128, 14336, 128256)
    n, weights = 131072, weight_params(arch) * 2
    rates = DeviceRates("H200", 4.3e12, 7.88e14, "bfloat16", 150754820096)
    f = FloorInputs(arch, 2, weights, weights, 32, 8192, rates)
    kv = 32 * 2048 * kv_entry_bytes(arch, 2)
    working = prefill_working_bytes(arch, n, 2, 8192)
    measured = weights + kv + working + extra_gb * 1e9
    row = {
        "context_length": n, "method": "snapkv", "kv_cache_bytes": kv, "peak_memory_kind": "cuda_max_allocated",
        "prefill_peak_bytes": measured, "peak_allocated_bytes": measured,
        "peak_predicted_bytes": predicted_peak(n, kv, f),
    }  # fmt: skip
    meta = {"weights_bytes": weights, "arch": arch.to_dict(), "dtype": "torch.bfloat16", "mlp_chunk": 8192}
    goals = floor_goals([row], meta)
    return next(g for g in goals if "peak" in g[0]), working


def test_peak_goal_uses_the_working_set_model():
    (goal, ok, detail), working = _llama_floor_rows(0.0)  # today's model: 7.0 GB, above the old 4 GB slack
    assert ok is True and "working-set model" in goal, detail
    (_, over, detail), _ = _llama_floor_rows(working * 0.1 + 3e9)
    assert over is False and "(over)" in detail


# -- allocator setting, device rates' spread, a warm allocator, `fits` on usable memory ---------------


def test_allocator_setting_in_one_place(monkeypatch):
    from asl.allocator import allocator_settings, configure_cuda_allocator
    from asl.paths import REPO_ROOT

    for name in ("PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF"):
        monkeypatch.delenv(name, raising=False)
    assert configure_cuda_allocator() == "expandable_segments:True"
    assert allocator_settings()["expandable_segments"] is True
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:False,max_split_size_mb:512")
    assert configure_cuda_allocator() == "expandable_segments:False,max_split_size_mb:512"  # the user's wins
    assert allocator_settings()["expandable_segments"] is False
    for script in ("run.py", "bench_efficiency.py", "gpu_check.py", "reproduce_table2.py"):
        assert "configure_cuda_allocator()" in (REPO_ROOT / "scripts" / script).read_text(), script


def test_allocator_setting_recorded_in_run_metadata():
    from asl.efficiency.measure import run_metadata
    from asl.harness.meta import run_meta
    from asl.paths import REPO_ROOT

    assert "alloc_conf" in run_meta(0)["allocator"]
    meta = run_metadata(torch.device("cpu"), REPO_ROOT)
    assert "alloc_conf" in meta["allocator"] and "policy" in meta["allocator"]


def test_device_rates_record_their_spread():
    from asl.efficiency.device import DeviceRates, burst_rates, spread

    calls = []
    rates = burst_rates(torch.device("cpu"), lambda: calls.append(1), 1.0, warmups=2, bursts=5, repeats=3)
    assert len(rates) == 5 and len(calls) == 2 + 5 * 3
    s = spread([3.0, 1.0, 2.0, 10.0])
    assert (s["min"], s["median"], s["max"], s["n"]) == (1.0, 2.5, 10.0, 4)
    back = DeviceRates.from_dict({**DeviceRates("x", 1.0, 2.0, "bfloat16", copy_spread=s).to_dict()})
    assert back.copy_spread == s


def test_no_empty_cache_before_a_measured_run(monkeypatch):
    from asl.efficiency import measure

    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    measure.reset_peak(CUDA)
    assert emptied == []


def test_fits_compares_with_usable_memory_not_total():
    from asl import build_method
    from asl.cost_model import ArchSpec, weight_params
    from asl.efficiency.device import CUDA_CONTEXT_BYTES, DeviceRates
    from asl.efficiency.floors import FloorInputs, prediction_row

    arch = ArchSpec(32, 4096, 32, 8, 128, 14336, 128256)
    weights = weight_params(arch) * 2
    method = build_method("fullkv").resolved({}, 32)
    total = 80 * 2**30

    def fits(usable):
        rates = DeviceRates("H100", 3e12, 7e14, "bfloat16", total, usable_bytes=usable)
        row = prediction_row(method, 131072, FloorInputs(arch, 2, weights, weights, 32, 8192, rates), 0.68)
        return row["fits"], row["peak_predicted_bytes"]

    _, peak = fits(None)
    assert fits(int(peak) + 1)[0] is True and fits(int(peak) - 1)[0] is False
    assert DeviceRates("H100", 3e12, 7e14, "bfloat16", total).fits_bytes == total - CUDA_CONTEXT_BYTES


def test_fp32_static_vs_eager_tolerates_only_near_ties():
    from asl.gpucheck.tiny import NEAR_TIE, agree_up_to_ties

    gaps = {}

    def gap(prefix, x, y):
        return gaps[len(prefix)]

    assert agree_up_to_ties([1, 2, 3], [1, 2, 3], gap) == (True, "identical")
    gaps[1] = NEAR_TIE / 10  # a near-tie at the second token: accepted whatever follows
    assert agree_up_to_ties([1, 2, 3], [1, 5, 9], gap)[0] is True
    gaps[1] = 0.5  # a real difference
    ok, detail = agree_up_to_ties([1, 2, 3], [1, 5, 3], gap)
    assert ok is False and "real difference" in detail


def test_logit_gap_is_a_plain_forward():
    from asl import load_model
    from asl.gpucheck.tiny import logit_gap

    model, _ = load_model("tiny_llama")
    prompt = torch.arange(10)
    logits = model(torch.arange(12).view(1, -1)).logits[0, -1]
    assert logit_gap(model, prompt)([10, 11], 3, 4) == pytest.approx(
        float((logits[3] - logits[4]).abs()), abs=1e-5
    )


def test_gpu_check_forced_capture_failure_section_on_cpu(monkeypatch):
    from omegaconf import OmegaConf

    from asl.engine import graphs
    from asl.gpucheck import tiny
    from asl.gpucheck.summary import Summary

    monkeypatch.setattr(graphs, "graph_capture_supported", lambda device: True)
    cfg = OmegaConf.create({"prompt_len": 100, "new_tokens": 6, "small": {"kv_budget": 48, "window": 8}})
    summary = Summary(600)
    tiny.forced_capture_failure(summary, "s", "tiny_llama", cfg, device="cpu")
    assert [line.status for line in summary.lines] == ["PASS"], summary.lines
    assert graphs.capture_graph.__name__ == "capture_graph"  # restored


# -- make gpu-check: its time plan fits 8 minutes on one H100 (and on an H200) --------------------------


@pytest.mark.parametrize("profile", ["h100", "h200"])
def test_gpu_check_time_plan_fits_eight_minutes(profile):
    from hydra import compose, initialize_config_dir

    from asl.efficiency.device import device_profile
    from asl.gpucheck.plan import plan_lines, time_plan
    from asl.methods.registry import list_methods
    from asl.paths import CONFIG_DIR

    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        cfg = compose("gpu_check")
    assert cfg.time_budget_s <= 480
    plan = time_plan(cfg, device_profile(profile), len(list_methods()))
    keys = [p.key for p in plan]
    assert {"kernels", "tiny", "decode", "peaks", "spread"} <= set(keys)  # sections (1)-(5), every one run
    total = sum(p.seconds for p in plan)
    assert total <= cfg.time_budget_s, plan_lines(plan, device_profile(profile), cfg.time_budget_s)
    assert all(p.seconds > 0 for p in plan)


def test_gpu_check_peaks_against_the_scale_check(tmp_path):
    from asl.gpucheck.peaks import GIB, compare, scale_check_figures

    assert scale_check_figures(tmp_path / "absent.csv", "llama31_8b_ul", 131072) == {}
    path = tmp_path / "scale_check.csv"
    head = "model,method,context_length,phase,peak_bytes,predicted_bytes,weights_bytes,kv_bytes,largest_tensor_bytes,decode_ops_per_layer"
    rows = [f"llama31_8b_ul,{m},131072,{ph},{p * GIB},{p * GIB},0,0,0,20" for m, ph, p in
            (("fullkv", "prefill", 40), ("snapkv", "prefill", 20), ("snapkv", "decode", 18))]  # fmt: skip
    path.write_text("\n".join([head, *rows]) + "\n")
    figures = scale_check_figures(path, "llama31_8b_ul", 131072)
    assert figures["snapkv"]["peak_bytes"] == 20 * GIB and set(figures) == {"fullkv", "snapkv"}
    measured = [
        {"method": "fullkv", "allocated": 41 * GIB, "reserved": 42 * GIB},
        {"method": "snapkv", "allocated": 22 * GIB, "reserved": 23 * GIB},
        {"method": "gemfilter", "allocated": 18 * GIB, "reserved": 19 * GIB},
    ]
    statuses = [status for status, _ in compare(measured, figures, "expandable_segments:True")]
    assert statuses == ["PASS", "FAIL", "INFO"]


def test_static_nograph_mode_is_never_captured(monkeypatch):
    from asl import load_model
    from asl.engine import graphs
    from tests.reference import random_prompt

    model, _ = load_model("tiny_llama")
    monkeypatch.setattr(graphs, "graph_capture_supported", lambda device: True)
    monkeypatch.setattr(graphs, "capture_graph", lambda step, device: pytest.fail("captured"))
    prompt = random_prompt(80, model.config.vocab_size, seed=4)[0]
    res = _generate(model, "fullkv", prompt, "static_nograph")
    assert res.token_ids == _generate(model, "fullkv", prompt, "eager").token_ids
    assert res.decode_mode == "static_nograph" and "not captured" in res.decode_graph_status
