"""``dry_run=true`` as a GPU pre-flight: the data, the budget against the prompts, and what the run will cost.

Before any weights load: each task's data is found and its records counted (or the run stops with the
one-line missing-data error, as the real run would); a KV budget not below the prompts is flagged (the
method would prune nothing); and for a GPU model the cost and memory models predict, on a device profile
(``device_profile=h100|h200``, ``configs/devices.yaml``), the prefill and decode time per prompt length,
the peak memory against the profile's usable memory (fits / does not fit) and the run's GPU-hours. A
model without a device profile is refused (one line) rather than predicted with CPU rates. Nothing is
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asl.cost_model import ArchSpec, decode_weight_bytes, weight_params
from asl.harness.config import context_lengths

GB = 1e9
GPU_PROFILES = ("h100", "h200")
DEFAULT_GPU_PROFILE = "h200"
CPU_PROFILE = "cpu"


@dataclass(frozen=True)
class TaskData:
    """What one task of the benchmark will run: samples, and where they come from."""

    task: str
    samples: int | None  # None: counted only at run time (Hub)
    source: str


def _records(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def task_data(bench: dict[str, Any]) -> list[TaskData]:
    """Per task: samples and source. Absent data raises the one-line MissingDataError (``allow_missing``: the
    task is listed with 0 samples)."""
    from eval import registry
    from eval.datasources import QA_FILES, is_hub
    from eval.errors import MissingDataError
    from eval.infinitebench.tasks import OFFICIAL_RECORDS, canonical_task

    family, data_dir = bench.get("family"), bench.get("data_dir")
    lengths = context_lengths(bench)
    n = bench.get("num_samples")
    depths = len(bench.get("depths") or [None])
    tasks = bench.get("tasks") or []
    out = []
    for entry in tasks if isinstance(tasks, list) else [tasks]:
        fam, _, task = str(entry).partition("/") if family == "mixed" else (family, "", str(entry))
        generated = (n or 1) * max(1, len(lengths)) * depths
        try:
            spec = registry.spec(fam, canonical_task(task)) if fam == "infinitebench" else None
            # official records: a data folder or the Hub (generatable tasks too), or a real-data task
            if spec is not None and ((data_dir and spec.data != "none") or spec.generate is None):
                task = canonical_task(task)
                if not data_dir:
                    raise MissingDataError(
                        f"InfiniteBench task {task!r} needs real data: set benchmark.data_dir to the folder of "
                        "official JSONL files, or to 'hf' for the Hugging Face Hub"
                    )
                if is_hub(data_dir):
                    official = OFFICIAL_RECORDS.get(task)
                    count = min(int(n), official or int(n)) if n else official
                    where = (
                        f"Hugging Face Hub ({official} official records)" if official else "Hugging Face Hub"
                    )
                    out.append(TaskData(str(entry), count, where))
                    continue
                path = Path(str(data_dir)).expanduser() / f"{task}.jsonl"
                if not path.is_file():
                    raise MissingDataError(f"InfiniteBench task {task!r}: {path} is missing")
                count = _records(path)
                out.append(
                    TaskData(str(entry), min(int(n), count) if n else count, f"{count} records in {path}")
                )
            elif fam == "ruler" and task in QA_FILES and not is_hub(data_dir):
                folder = Path(str(data_dir or ".")).expanduser()
                if not data_dir or not any((folder / name).is_file() for name in QA_FILES[task]):
                    raise MissingDataError(
                        f"RULER {task} needs {' or '.join(QA_FILES[task])} in benchmark.data_dir or data_dir=hf "
                        f"(got {data_dir!r})"
                    )
                out.append(TaskData(str(entry), generated, f"generated from {folder}"))
            else:
                out.append(TaskData(str(entry), generated, "generated"))
        except MissingDataError as err:
            if not bench.get("allow_missing", False):
                raise
            out.append(TaskData(str(entry), 0, f"skipped: {err}"))
    return out


def budget_warning(method: Any, lengths: list[int]) -> str | None:
    """A warning when the method's KV budget is not below the prompts (it would prune nothing)."""
    budget = method.to_dict().get("kv_budget")
    if not budget or not lengths or max(lengths) > int(budget):
        return None
    return (
        f"warning: kv_budget {budget} is not below the prompts (~{max(lengths)} tokens): {method.label} prunes "
        "nothing here; use a longer benchmark (e.g. benchmark=ruler or infinitebench_paper) or a smaller budget"
    )


def device_profile_name(cfg: Any, spec: Any) -> str:
    """The profile the plan predicts with: ``device_profile``, else the model's bench profile (GPU models:
    h200, CPU/tiny models: cpu). A model without one is refused (ValueError, one line)."""
    from asl.efficiency.device import device_profiles

    name = cfg.get("device_profile")
    known = [CPU_PROFILE, *device_profiles()]
    if name is not None:
        if name not in known:
            raise ValueError(f"unknown device_profile {name!r}; choose one of: {', '.join(known)}")
        return str(name)
    kind = _bench_profile(spec.name)
    if kind is None:
        raise ValueError(
            f"model {spec.name!r} has no device profile: pass device_profile={'|'.join(GPU_PROFILES)} "
            "(or cpu) to predict its time and memory"
        )
    return DEFAULT_GPU_PROFILE if kind == "gpu" else CPU_PROFILE


def _bench_profile(model: str) -> str | None:
    import yaml

    from asl.paths import CONFIG_DIR

    models = yaml.safe_load((CONFIG_DIR / "bench.yaml").read_text()).get("models") or {}
    return (models.get(model) or {}).get("profile")


def floor_inputs(arch: ArchSpec, tied: bool, dtype_bytes: int, profile: str, new_tokens: int) -> Any:
    """The cost and memory models' inputs for ``arch`` on a device profile, prefilled as the runner does
    (its default chunk), decoding ``new_tokens`` tokens (``asl.efficiency.floors.FloorInputs``)."""
    from asl.efficiency.device import device_profile
    from asl.efficiency.floors import FloorInputs
    from asl.engine.chunking import DEFAULT_MLP_CHUNK

    weights = weight_params(arch, tied) * dtype_bytes
    decode_weights = decode_weight_bytes(arch, dtype_bytes, tied)
    return FloorInputs(
        arch, dtype_bytes, weights, decode_weights, new_tokens, DEFAULT_MLP_CHUNK, device_profile(profile)
    )


def gpu_lines(
    method: Any,
    arch: ArchSpec,
    tied: bool,
    dtype_bytes: int,
    profile: str,
    runs: dict[int, int],
    new_tokens: int,
) -> list[str]:
    """Per prompt length: predicted prefill and decode time, peak memory and fits on ``profile``; GPU-hours.

    ``runs`` maps a prompt length to the number of prompts of that length; ``new_tokens`` is the mean
    decode budget per prompt.
    """
    from asl.efficiency.device import profile_prefill_efficiency
    from asl.efficiency.floors import prediction_row

    f = floor_inputs(arch, tied, dtype_bytes, profile, new_tokens)
    rates, weights = f.rates, f.weights_bytes
    efficiency = profile_prefill_efficiency()
    usable = rates.fits_bytes or 0
    lines = [
        f"  device profile {profile}: {rates.name}, {rates.matmul_flops_per_s / 1e12:.0f} TFLOP/s x {efficiency} "
        f"(prefill), {rates.copy_bytes_per_s / 1e12:.1f} TB/s (decode floor), {usable / GB:.1f} GB usable; "
        f"weights {weights / GB:.1f} GB"
    ]
    total = 0.0
    for n in sorted(runs):
        p = prediction_row(method, n, f, efficiency)
        prefill, step = p["ttft_expected_s"], p["tpot_floor_s"]
        total += runs[n] * (prefill + new_tokens * step)
        fits = "fits" if p["fits"] else "DOES NOT FIT"
        layer = "no selection assumed" if p["selection_layer"] is None else f"layer {p['selection_layer']}"
        lines.append(
            f"  N={n}: prefill ~{prefill:.1f} s ({layer}), decode >= {step * 1e3:.1f} ms/token x {new_tokens}, "
            f"peak {p['peak_predicted_bytes'] / GB:.1f} GB (KV {p['kv_cache_bytes'] / GB:.2f} GB): {fits} "
            f"x {runs[n]} prompt(s)"
        )
    lines.append(f"  total: ~{total / 3600:.2f} GPU-hours on one {rates.name} (model loading not counted)")
    return lines
