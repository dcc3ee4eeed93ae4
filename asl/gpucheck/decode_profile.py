"""Sections (3) and (5) of ``make gpu-check`` on one random-weight 8B model: the decode step's profile
(kernels per step, launch gaps, aten ops per layer), TPOT against its floor, and the spread of the
device rates and of TTFT over repeats."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from asl.gpucheck.summary import Summary

# issue 11's goals (H200): TPOT over its floor
TPOT_GOALS = {"fullkv": 1.25}
PRUNED_TPOT_GOAL = 1.5


def _prompt(model: Any, n: int) -> list[int]:
    return torch.randint(
        0, model.config.vocab_size, (n,), generator=torch.Generator().manual_seed(n)
    ).tolist()


def step_profile(model: Any, kv_lengths: list[int], position: int, steps: int = 5) -> dict[str, float]:
    """Kernels per replayed step, GPU-busy and wall time per step (the gap is launch and host time)."""
    from torch.profiler import ProfilerActivity, profile

    from asl.engine.graphs import capture_memo
    from asl.engine.op_count import synthetic_cache
    from asl.engine.static_decode import StaticDecoder

    cache = synthetic_cache(model, kv_lengths, decode_room=steps + 4)
    with torch.inference_mode():
        decoder = StaticDecoder(model, cache, 0, position, capture=True, memo=capture_memo(model))
        decoder.step(), decoder.step()  # warm-up, capture
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            start = time.perf_counter()
            for _ in range(steps):
                decoder.step()
            wall = (time.perf_counter() - start) / steps
        decoder.finish()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy = sum(e.device_time for e in kernels) / 1e6 / steps
    return {"kernels": len(kernels) / steps, "busy_s": busy, "wall_s": wall, "graph": decoder.graph_status}


def decode_profile(summary: Summary, section: str, spread_section: str, d: Any) -> None:
    """Build the model once; TPOT vs floor per method, the step profile, then the rates' and TTFT's spread."""
    from asl import build_method, generate
    from asl.cost_model import ArchSpec
    from asl.efficiency.bench import floor_inputs
    from asl.efficiency.device import measure_rates
    from asl.efficiency.floors import tpot_floor
    from asl.efficiency.measure import device_name
    from asl.efficiency.settings import load_bench_model
    from asl.engine.op_count import decode_ops_for_lengths
    from asl.gpucheck.benches import bench_settings

    s = bench_settings(d.model, [f"decode_steps={d.steps}"])
    model, _ = load_bench_model(s)
    device = next(model.parameters()).device
    rates = measure_rates(device, model.dtype, device_name(device))
    f = floor_inputs(model, ArchSpec.from_config(model.config), 2, s, rates)
    for name in d.methods:
        res = generate(model, None, _prompt(model, d.length), build_method(name), d.steps, ignore_eos=True)
        floor = tpot_floor(res.kv_cache_bytes, f)
        ratio = (res.tpot_s or float("nan")) / floor
        goal = TPOT_GOALS.get(name, PRUNED_TPOT_GOAL)
        ops = decode_ops_for_lengths(model, res.kv_lengths, d.steps)
        summary.add(
            section,
            "PASS" if ratio <= goal and res.decode_graph else "FAIL",
            f"{d.model} {name} N={d.length}: TPOT {res.tpot_s * 1e3:.2f} ms = {ratio:.2f} x floor {floor * 1e3:.2f} ms "
            f"(goal <= {goal}); {res.decode_graph_status}; {ops:.0f} aten ops per layer",
        )
        prof = step_profile(model, res.kv_lengths, d.length + d.steps)
        summary.add(
            section,
            "INFO",
            f"{name} step: {prof['kernels']:.0f} kernels, GPU busy {prof['busy_s'] * 1e3:.2f} ms of "
            f"{prof['wall_s'] * 1e3:.2f} ms wall (gap {max(0.0, prof['wall_s'] - prof['busy_s']) * 1e3:.2f} ms)",
        )
        del res
        torch.cuda.empty_cache()
    for key, label, unit, scale in (
        ("copy_spread", "copy", "GB/s", 1e9),
        ("matmul_spread", "matmul", "TFLOP/s", 1e12),
    ):
        sp = getattr(rates, key)
        summary.add(
            spread_section,
            "PASS" if sp["min"] >= 0.9 * sp["median"] else "FAIL",
            f"{label} over {sp['n']} bursts: min {sp['min'] / scale:.1f} / median {sp['median'] / scale:.1f} / "
            f"max {sp['max'] / scale:.1f} {unit} (PASS when min >= 0.9 x median)",
        )
    ttfts = []
    prompt = _prompt(model, d.ttft_length)
    for _ in range(1 + d.repeats):
        ttfts.append(generate(model, None, prompt, build_method(d.ttft_method), 1, ignore_eos=True).ttft_s)
    timed = ttfts[1:]
    med = statistics.median(timed)
    summary.add(
        spread_section,
        "PASS" if max(timed) <= 1.1 * med else "FAIL",
        f"TTFT {d.ttft_method} N={d.ttft_length} over {len(timed)} repeats after a warm-up ({ttfts[0]:.3f} s): "
        f"min {min(timed):.3f} / median {med:.3f} / max {max(timed):.3f} s (PASS when max <= 1.1 x median)",
    )
    del model
    torch.cuda.empty_cache()
