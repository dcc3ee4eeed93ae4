"""``scripts/run.py dry_run=true``: what a run would do, without loading the model or building prompts.

The sample count and prompt lengths come from the benchmark node and its data files (records counted per
task; absent data stops the plan with the run's one-line error). On a CPU profile the time is a rough
estimate from the cost model (:mod:`asl.cost_model`, the method's own ``prefill_flops``) at the rates of
``cfg.plan``, with no selection assumed (an upper bound for methods that select adaptively). A GPU model
is planned on a device profile (:mod:`asl.harness.preflight`): prefill / decode time, peak memory, fits,
GPU-hours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from asl.cost_model import ArchSpec
from asl.harness.config import (
    context_lengths,
    effective_method,
    identity,
    resolve_run_method,
    run_dir_for,
    to_plain,
)
from asl.harness.plan_checks import data_report, power_report
from asl.harness.preflight import CPU_PROFILE, budget_warning, device_profile_name, gpu_lines, task_data
from asl.harness.rundir import choose_run_dir
from asl.harness.validation import validate_run
from asl.models.registry import ModelSpec
from asl.results.shardfiles import read_run_records

DEFAULT_NEW_TOKENS = 32  # the runner's default when an example names no budget


def arch_of(spec: ModelSpec) -> ArchSpec | None:
    """The model's shape from its random config, cached checkpoint or cached HF config (None if unknown)."""
    try:
        if spec.source == "tiny" or spec.random_config:
            return ArchSpec.from_config(dict(spec.random_config))
        if spec.source == "embedded":
            from asl.models.embedded import checkpoint_dir

            path = checkpoint_dir(spec) / "config.json"
            return ArchSpec.from_config(json.loads(path.read_text())) if path.is_file() else None
        from transformers import AutoConfig

        return ArchSpec.from_config(AutoConfig.from_pretrained(spec.path, local_files_only=True))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _device(cfg: DictConfig) -> str:
    device = cfg.get("device")
    if device is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if str(device).startswith("cuda") else "cpu"


def sample_count(bench: dict[str, Any]) -> tuple[int, list[str], list[int]]:
    """(samples, tasks, context lengths) a benchmark node asks for (NIAH: every depth at every length)."""
    tasks = bench.get("tasks") or []
    tasks = [str(t) for t in (tasks if isinstance(tasks, list) else [tasks])]
    lengths = context_lengths(bench)
    depths = bench.get("depths") or [None]
    n = len(tasks) * max(1, len(lengths)) * int(bench.get("num_samples") or 1) * len(depths)
    return n, tasks, lengths


def _new_tokens(bench: dict[str, Any], task: str) -> int:
    budget = bench.get("max_new_tokens")
    if isinstance(budget, dict):
        value = budget.get(task.split("/")[-1])
        return int(value) if value else DEFAULT_NEW_TOKENS
    return int(budget) if budget else DEFAULT_NEW_TOKENS


def _done(run_dir: Path) -> int:
    return len(read_run_records(run_dir))  # predictions.jsonl and any shard files


def plan_text(cfg: DictConfig, cli_keys: set[str] | None = None) -> str:
    """The plan of one run (HarnessError for an invalid config, as a real run would raise)."""
    validate_run(cfg)
    spec, method = resolve_run_method(cfg, cli_keys)
    ident = identity(cfg, method.to_config())
    run_dir = choose_run_dir(run_dir_for(cfg.results_dir, ident), bool(cfg.run.get("force", False)))
    bench = dict(to_plain(cfg.benchmark))
    n, tasks, lengths = sample_count(bench)
    data = task_data(bench)  # absent data: the run's one-line MissingDataError
    if all(d.samples is not None for d in data):
        n = sum(d.samples for d in data)
    per_task = n // max(1, len(tasks))
    params = {
        k: v for k, v in method.to_dict().items() if k != "name" and k in effective_method(cfg, cli_keys)
    }
    if len({d.samples for d in data}) <= 1:
        samples = f"{n} = {len(tasks)} task(s) x {per_task} ({', '.join(tasks)})"
    else:
        samples = f"{n} = " + ", ".join(f"{d.task} {'?' if d.samples is None else d.samples}" for d in data)
    lines = [
        f"plan: {method.label} on {spec.name} / {bench.get('name')} -> {run_dir} ({_done(run_dir)} of {n} samples done)",
        f"  method {method.name}: " + ", ".join(f"{k}={v}" for k, v in params.items()),
        f"  samples: {samples}",
        *[f"  data: {d.task}: {d.source}" for d in data if d.source != "generated"],
        f"  prompt lengths: ~{', '.join(map(str, lengths)) or 'as the tasks define'} tokens",
    ]
    lines += preflight_lines(cfg, spec, method, bench, tasks, lengths, n, per_task)
    lines += [
        "  " + data_report(bench),
        "  " + power_report((cfg.get("plan") or {}).get("detect_points"), per_task, len(tasks)),
    ]
    return "\n".join(lines)


def preflight_lines(cfg: DictConfig, spec: ModelSpec, method: Any, bench: dict[str, Any], tasks: list[str],
                    lengths: list[int], n: int, per_task: int) -> list[str]:  # fmt: skip
    """The budget warning, then the time (CPU profile) or the GPU pre-flight on the model's device profile."""
    lines = []
    warning = budget_warning(method, lengths)
    if warning:
        lines.append(f"  {warning}")
    profile = device_profile_name(cfg, spec)
    if profile == CPU_PROFILE:
        return [*lines, "  " + time_estimate(cfg, spec, method, bench, tasks, lengths, per_task)]
    arch = arch_of(spec)
    if arch is None or not lengths:
        return [
            *lines,
            f"  device profile {profile}: unknown model shape or no context length: no prediction",
        ]
    tied = bool((spec.random_config or {}).get("tie_word_embeddings", False))
    dtype = str(cfg.get("dtype") or spec.dtype or "auto")
    dtype_bytes = 4 if dtype == "float32" else 2
    runs = {length: n // len(lengths) + (i < n % len(lengths)) for i, length in enumerate(lengths)}
    tokens = round(sum(_new_tokens(bench, t) for t in tasks) / max(1, len(tasks)))
    return [*lines, *gpu_lines(method, arch, tied, dtype_bytes, profile, runs, tokens)]


def time_estimate(cfg: DictConfig, spec: ModelSpec, method: Any, bench: dict[str, Any], tasks: list[str],
                  lengths: list[int], per_task: int) -> str:  # fmt: skip
    """``estimated time: ~3.2 min on cpu (...)`` or why there is none."""
    arch = arch_of(spec)
    if arch is None or not lengths:
        return "estimated time: unknown (model shape not cached, or no context length)"
    device = _device(cfg)
    plan = cfg.get("plan") or {}
    rate = float(plan.get(f"{device}_flops_per_s", 1e11))
    per_token = float((plan.get("seconds_per_token") or {}).get(device, 0.05))
    seconds = flops = 0.0
    for task in tasks:
        for length in lengths:
            prefill = method.prefill_flops(arch, length, None)
            flops += prefill
            seconds += (prefill / rate + _new_tokens(bench, task) * per_token) * per_task / len(lengths)
    return (
        f"estimated time: ~{seconds / 60:.1f} min on {device} (rough: {flops / len(tasks) / len(lengths) / 1e12:.2f} "
        f"TFLOP per prefill at {rate:.1e} FLOP/s plus {per_token} s per new token; no selection assumed)"
    )
