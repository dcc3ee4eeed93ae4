"""``dry_run=true`` on a shared-prefill job: each member's plan, then the cost model of sharing.

Per prompt length, the prefill FLOPs of the group's methods run separately and sharing one prefill
(:func:`asl.cost_model.shared_prefill_flops`: the full-token trunk once, as deep as its deepest member), the
time and GPU-hours of both on each device profile (the run's own; H100 and H200 for a GPU model), the
shared peak memory (a whole trunk layer's KV stored once, every compressed cache its own) beside Full KV's
alone, and where each method leaves the trunk. Adaptive selection is not known in advance: a method with no
planned layer is costed as never selecting (an upper bound on both sides).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from asl.cost_model import ArchSpec, kv_bytes, shared_prefill_flops
from asl.harness.config import resolve_run_method, to_plain

GB = 1e9


def distinct_methods(methods: list[Any]) -> list[Any]:
    """The methods of a group, each configuration once (a method a swept key does not apply to repeats)."""
    seen: dict[str, Any] = {}
    for method in methods:
        seen.setdefault(repr(sorted(method.to_config().items())), method)
    return list(seen.values())


def trunk_plan(methods: list[Any], arch: ArchSpec, n: int) -> list[tuple[Any, int, int]]:
    """(method, its own prefill FLOPs, full-token layers it runs on the trunk) at the planned layers."""
    out = []
    for method in methods:
        layer = method.planned_layer()
        out.append(
            (method, method.prefill_flops(arch, n, layer), method.trunk_layers(arch.num_layers, n, layer))
        )
    return out


def group_flops(plan: list[tuple[Any, int, int]], arch: ArchSpec, n: int) -> tuple[int, int]:
    """(separate, shared) prefill FLOPs of one n-token prompt; methods that cannot share (their session
    needs HF's own layer forward) count on both sides as their own prefill."""
    separate = sum(flops for _, flops, _ in plan)
    sharing = [(flops, layers) for method, flops, layers in plan if method.shares_prefill]
    alone = sum(flops for method, flops, _ in plan if not method.shares_prefill)
    return separate, shared_prefill_flops(arch, n, sharing) + alone


def shared_kv_bytes(methods: list[Any], arch: ArchSpec, n: int, dtype_bytes: int) -> int:
    """Prompt KV of a shared prefill: a layer some member keeps whole is stored once (the engine shares
    that buffer), every shorter layer per member."""
    lengths = [m.kv_lengths(n, arch.num_layers, m.planned_layer()) for m in methods]
    whole = [any(ls[i] >= n for ls in lengths) for i in range(arch.num_layers)]
    per_member = [[x if x < n else 0 for x in ls] for ls in lengths]
    return kv_bytes(arch, [n if w else 0 for w in whole], dtype_bytes) + sum(
        kv_bytes(arch, ls, dtype_bytes) for ls in per_member
    )


def leave_text(method: Any, layers: int, num_layers: int) -> str:
    """``fastkv: forks after layer 14`` / ``gemfilter: leaves after layer 13, then its second pass``."""
    if not method.shares_prefill:
        return f"{method.name}: its own prefill (its session needs HF's layer forward)"
    if layers >= num_layers:
        return f"{method.name}: trunk to the last layer"
    verb = "leaves after layer {0}, then its second pass" if method.two_pass else "forks after layer {0}"
    return f"{method.name}: {verb.format(layers - 1)}"


def sharing_lines(
    cfgs: list[DictConfig], cli_keys: list[set[str]], runs: dict[int, int], new_tokens: int
) -> list[str]:
    """The cost-model block of a shared job (``runs``: prompts per length; ``new_tokens``: mean budget)."""
    from asl.harness.plan import arch_of
    from asl.harness.preflight import CPU_PROFILE, device_profile_name

    resolved = [resolve_run_method(cfg, keys) for cfg, keys in zip(cfgs, cli_keys, strict=True)]
    spec, methods = resolved[0][0], distinct_methods([m for _, m in resolved])
    arch = arch_of(spec)
    if arch is None or not runs:
        return ["shared prefill: unknown model shape or no context length: no cost estimate"]
    lines = [
        f"shared prefill: {len(methods)} method settings, one prefill per prompt (share_prefill=false: one each)"
    ]
    n_max = max(runs)
    plan = trunk_plan(methods, arch, n_max)
    lines.append(
        f"  sharing plan at N={n_max} (adaptive layers not known in advance: no selection assumed): "
        + "; ".join(leave_text(m, t, arch.num_layers) for m, _, t in plan)
    )
    for n in sorted(runs):
        separate, shared = group_flops(trunk_plan(methods, arch, n), arch, n)
        lines.append(f"  N={n}: prefill {shared / 1e15:.2f} PFLOP shared vs {separate / 1e15:.2f} separate "
                     f"({shared / separate:.3f}) x {runs[n]} prompt(s)")  # fmt: skip
    profile = device_profile_name(cfgs[0], spec)
    if profile == CPU_PROFILE:
        return lines
    dtype = str(cfgs[0].get("dtype") or spec.dtype or "auto")
    dtype_bytes = 4 if dtype == "float32" else 2
    tied = bool((spec.random_config or {}).get("tie_word_embeddings", False))
    for name in dict.fromkeys([profile, "h100", "h200"]):
        lines += gpu_hours_lines(methods, arch, tied, dtype_bytes, name, runs, new_tokens)
    return lines


def gpu_hours_lines(methods: list[Any], arch: ArchSpec, tied: bool, dtype_bytes: int, profile: str,
                    runs: dict[int, int], new_tokens: int) -> list[str]:  # fmt: skip
    """GPU-hours separate vs shared on one device profile, and the shared peak beside Full KV's alone."""
    from asl.efficiency.device import profile_prefill_efficiency
    from asl.efficiency.floors import predicted_peak, prediction_row
    from asl.harness.preflight import floor_inputs

    f = floor_inputs(arch, tied, dtype_bytes, profile, new_tokens)
    rates = f.rates
    eff = profile_prefill_efficiency()
    separate = shared = 0.0
    peaks = []
    for n, count in runs.items():
        rows = [prediction_row(m, n, f, eff) for m in methods]
        decode = sum(new_tokens * r["tpot_floor_s"] for r in rows)
        sep_flops, shr_flops = group_flops(trunk_plan(methods, arch, n), arch, n)
        rate = rates.matmul_flops_per_s * eff
        separate += count * (sep_flops / rate + decode)
        shared += count * (shr_flops / rate + decode)
        full_alone = predicted_peak(n, kv_bytes(arch, [n] * arch.num_layers, dtype_bytes), f)
        peaks.append((n, predicted_peak(n, shared_kv_bytes(methods, arch, n, dtype_bytes), f), full_alone))
    n, peak, full = max(peaks)
    fits = "" if rates.fits_bytes is None else (" fits" if peak <= rates.fits_bytes else " DOES NOT FIT")
    return [
        f"  {rates.name}: ~{shared / 3600:.1f} GPU-hours shared vs ~{separate / 3600:.1f} separate "
        f"({shared / separate:.3f}; decode at the floor, model loading not counted)",
        f"  {rates.name}: shared peak at N={n} ~{peak / GB:.1f} GB vs Full KV alone ~{full / GB:.1f} GB "
        f"({peak / full - 1:+.1%}):{fits}",
    ]


def group_runs(cfg: DictConfig) -> tuple[dict[int, int], int]:
    """(prompts per context length, mean new-token budget) of a job's benchmark, as its plan counts them."""
    from asl.harness.plan import _new_tokens, sample_count
    from asl.harness.preflight import task_data

    bench = dict(to_plain(cfg.benchmark))
    n, tasks, lengths = sample_count(bench)
    data = task_data(bench)
    if all(d.samples is not None for d in data):
        n = sum(d.samples for d in data)
    runs = {length: n // len(lengths) + (i < n % len(lengths)) for i, length in enumerate(lengths)}
    tokens = round(sum(_new_tokens(bench, t) for t in tasks) / max(1, len(tasks)))
    return runs, tokens


def group_plan_text(cfgs: list[DictConfig], cli_keys: list[set[str]]) -> str:
    """Each member's plan, then the sharing block."""
    from asl.harness.plan import plan_text

    plans = [plan_text(cfg, keys) for cfg, keys in zip(cfgs, cli_keys, strict=True)]
    runs, tokens = group_runs(cfgs[0])
    return "\n".join([*plans, *sharing_lines(cfgs, cli_keys, runs, tokens)])
