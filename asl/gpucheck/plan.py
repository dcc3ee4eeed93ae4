"""The time plan of ``make gpu-check``: each section's expected seconds at a device profile's rates.

Prefills and decode steps of the 8B model come from the cost model (``asl.efficiency.floors``: FLOPs over
the matmul rate times the prefill efficiency, bytes over the copy bandwidth); the rest are fixed
allowances measured on CPU-sized work. The plan is printed before the check runs (on CPU too) and each
section is skipped, with a line saying so, when its estimate does not fit what is left of the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KERNELS_S = 10.0  # section 1: a few SDPA calls per backend and the flash-attn import
TINY_REQUEST_S = 0.4  # one tiny-model request on CUDA (prefill of ~160 tokens, 8 tokens decoded)
CPU_REQUEST_S = 0.6  # one tiny-model request on the host CPU (the CPU part runs on a GPU machine too)
PROCESS_S = 15.0  # a fresh Python process importing torch + transformers and initialising CUDA
MODEL_BUILD_S = 30.0  # random init of an 8B model on the GPU
PROFILE_S = 5.0  # the profiler around a few decode steps, and its tables
RATES_S = 5.0  # the device rates: 7 bursts each of copies and products
E2E_S = 60.0  # scripts/run.py on the embedded architecture (2 samples at 2K)
DECODE_MARGIN = 3.0  # decode steps at three times their floor (launch overhead, eager warm-up)


@dataclass(frozen=True)
class SectionPlan:
    """One section's expected seconds and what it runs."""

    key: str
    title: str
    seconds: float
    detail: str


def _rows(model: str, methods: list[str], lengths: list[int], rates: Any, steps: int) -> dict[tuple, dict]:
    """Prediction rows of ``model`` for ``methods`` at ``lengths`` on ``rates`` (bf16, the bench settings)."""
    import dataclasses

    from asl.efficiency.predict import predict_rows, reference_inputs
    from asl.gpucheck.benches import bench_settings

    s = bench_settings(
        model, [f"methods=[{','.join(methods)}]", f"decode_steps={steps}", "monitor_overhead=false"]
    )
    f = dataclasses.replace(reference_inputs(s), rates=rates)
    return {(r["method"], r["context_length"]): r for r in predict_rows(s, f, lengths)}


def _request_s(row: dict, steps: int) -> float:
    return row["ttft_expected_s"] + DECODE_MARGIN * steps * row["tpot_floor_s"]


def time_plan(cfg: Any, rates: Any, tiny_methods: int) -> list[SectionPlan]:
    """Every section's expected seconds at ``rates`` for the check configured by ``cfg``."""
    d, p = cfg.decode_profile, cfg.peaks
    dec = _rows(d.model, list(d.methods), [d.length, d.ttft_length], rates, d.steps)
    tiny = tiny_methods * len(cfg.tiny_models) * 2 * 3 * TINY_REQUEST_S  # 2 dtypes x (eager, no graph, graph)
    tiny += (3 + 1) * TINY_REQUEST_S * len(cfg.tiny_models)  # forced capture failure: 3 requests + reference
    tiny += tiny_methods * 2 * TINY_REQUEST_S  # FlashAttention-2 vs SDPA on the first tiny model
    cpu = tiny_methods * len(cfg.cpu_models) * 3 * CPU_REQUEST_S
    decode = MODEL_BUILD_S + PROFILE_S + sum(_request_s(dec[(m, d.length)], d.steps) for m in d.methods)
    ttft = RATES_S + (1 + d.repeats) * dec[(d.ttft_method, d.ttft_length)]["ttft_expected_s"]
    peak_rows = _rows(p.model, list(p.methods), [p.length], rates, 1)
    per_setting = PROCESS_S + MODEL_BUILD_S + sum(r["ttft_expected_s"] for r in peak_rows.values())
    plan = [
        SectionPlan("cpu", "CPU part: eager vs static decode", cpu, f"{tiny_methods} methods x {len(cfg.cpu_models)} models"),
        SectionPlan("kernels", "(1) kernels selected", KERNELS_S, "flash-attn import; SDPA backends, math off"),
        SectionPlan("tiny", "(2) tiny models: graph / no graph / eager", tiny,
                    f"{tiny_methods} methods x {len(cfg.tiny_models)} models x fp32, bf16; forced capture failure"),
        SectionPlan("decode", "(3) 8B decode profile, TPOT vs floor", decode,
                    f"{d.model} N={d.length}: {', '.join(d.methods)}, {d.steps} steps"),
        SectionPlan("peaks", "(4) prefill peaks vs scale-check", len(p.alloc_confs) * per_setting,
                    f"{p.model} N={p.length}: {', '.join(p.methods)} x {len(p.alloc_confs)} allocator settings"),
        SectionPlan("spread", "(5) device rates and TTFT spread", ttft,
                    f"{d.ttft_method} N={d.ttft_length}, 1 + {d.repeats} requests"),
    ]  # fmt: skip
    if cfg.e2e:
        plan.append(
            SectionPlan("e2e", "end to end: scripts/run.py", E2E_S, "embedded architecture, 2 samples")
        )
    return plan


def plan_lines(plan: list[SectionPlan], rates: Any, budget_s: float) -> list[str]:
    """The printed plan: one line per section and the total against the budget."""
    total = sum(s.seconds for s in plan)
    lines = [f"time plan at {rates.name} ({rates.source}) rates, budget {budget_s:.0f} s:"]
    lines += [f"  {s.title}: ~{s.seconds:.0f} s ({s.detail})" for s in plan]
    lines.append(
        f"  total ~{total:.0f} s = {total / 60:.1f} min: {'fits' if total <= budget_s else 'OVER'} the budget"
    )
    return lines
