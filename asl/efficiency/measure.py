"""Timing / memory helpers and summary statistics for the efficiency benchmark (methods.md §10)."""

from __future__ import annotations

import gc
import importlib.metadata
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from asl.allocator import allocator_settings

GIB = 1024**3


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cleanup(device: torch.device) -> None:
    """gc.collect() and empty the CUDA cache between runs."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


#: what the bench does with the CUDA allocator's cache (recorded in meta.json)
ALLOCATOR_POLICY = (
    "warm: empty_cache once after the device-rate measurement and between context lengths; "
    "gc only (no empty_cache) before and after each measured run"
)


def reset_peak(device: torch.device) -> None:
    """Collect garbage, then reset the CUDA peak-memory statistics before a measured run (the allocator's
    cache is kept warm: an empty_cache here would make every TTFT pay fresh allocations)."""
    gc.collect()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def read_peak(device: torch.device) -> dict[str, int | None]:
    """CUDA max_memory_allocated / max_memory_reserved since the last reset (None on CPU)."""
    if device.type != "cuda":
        return {"peak_allocated_bytes": None, "peak_reserved_bytes": None}
    synchronize(device)
    return {
        "peak_allocated_bytes": int(torch.cuda.max_memory_allocated(device)),
        "peak_reserved_bytes": int(torch.cuda.max_memory_reserved(device)),
    }


class WallTimer:
    """perf_counter timer with CUDA synchronisation at both ends (a cross-check of the engine's timings)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = float("nan")

    def __enter__(self) -> WallTimer:
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start


def summarize(values: Sequence[float | None]) -> dict[str, float]:
    """Median, mean, std and a Student-t 95% interval of the mean (NaN where undefined)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    nan = float("nan")
    if not xs:
        return {"median": nan, "mean": nan, "std": nan, "ci_lo": nan, "ci_hi": nan, "n": 0}
    mean = statistics.fmean(xs)
    std = statistics.stdev(xs) if len(xs) > 1 else nan
    if len(xs) > 1:
        from scipy.stats import t

        half = float(t.ppf(0.975, len(xs) - 1)) * std / math.sqrt(len(xs))
        lo, hi = mean - half, mean + half
    else:
        lo = hi = nan
    return {"median": statistics.median(xs), "mean": mean, "std": std, "ci_lo": lo, "ci_hi": hi, "n": len(xs)}


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def run_metadata(device: torch.device, repo: Path) -> dict[str, Any]:
    """Versions, device, git commit (and whether the tree was dirty) for every results file."""
    import transformers

    meta: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device_name(device),
        "allocator": {**allocator_settings(), "policy": ALLOCATOR_POLICY},
        "git_commit": _run(["git", "rev-parse", "HEAD"], repo),
        "git_dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"], repo)),
    }
    try:  # the installed version only: flash-attn is never imported on this path
        meta["flash_attn"] = importlib.metadata.version("flash-attn")
    except importlib.metadata.PackageNotFoundError:
        meta["flash_attn"] = None
    if device.type == "cuda":
        meta["cuda"] = torch.version.cuda
        meta["cudnn"] = torch.backends.cudnn.version()
        meta["gpu_total_memory_bytes"] = torch.cuda.get_device_properties(device).total_memory
        meta["driver"] = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return meta


def device_name(device: torch.device) -> str:
    """A human-readable device label (GPU name, or ``cpu``)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
