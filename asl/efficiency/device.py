"""The device's ceilings, measured once per run: memory bandwidth (a device copy) and dense matmul rate.

They turn the cost model's bytes and FLOPs into time floors: a decode step cannot beat the bytes it must
read over the copy bandwidth, a prefill cannot beat its FLOPs over the dense matmul rate. Each rate is the
median of several timed bursts after warm-ups; the spread (min / median / max over the bursts) is kept.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

MIB = 1024**2
#: memory the CUDA context and cuBLAS/cuDNN workspaces take before any tensor (assumed for device profiles;
#: a measured run uses torch.cuda.mem_get_info instead)
CUDA_CONTEXT_BYTES = 1024 * MIB


@dataclass(frozen=True)
class DeviceRates:
    """Measured (or assumed, for predictions) ceilings of one device."""

    name: str
    copy_bytes_per_s: float  # bytes read + written per second by a device-to-device copy
    matmul_flops_per_s: float  # dense matrix product in ``matmul_dtype``
    matmul_dtype: str
    memory_bytes: int | None = None  # total device memory (GPU), None on CPU
    source: str = "measured"
    usable_bytes: int | None = None  # what this process's allocator can use: free after the CUDA context
    copy_spread: dict[str, float] | None = None  # min / median / max bytes per s over the bursts, n
    matmul_spread: dict[str, float] | None = None  # min / median / max FLOP/s over the bursts, n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def fits_bytes(self) -> int | None:
        """The budget a peak must fit: measured usable memory, else total minus the assumed CUDA context."""
        if self.usable_bytes is not None:
            return self.usable_bytes
        return None if self.memory_bytes is None else self.memory_bytes - CUDA_CONTEXT_BYTES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceRates:
        """From a config node (``reference_device``) or a meta.json entry."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**{"matmul_dtype": "bfloat16", "source": "assumed", **known})


def _timed(device: torch.device, fn, repeats: int) -> float:
    """Mean seconds of ``fn`` over ``repeats`` back-to-back calls (CUDA events on CUDA)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3 / repeats
    begin = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - begin) / repeats


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max and n of ``values``."""
    ordered = sorted(values)
    return {"min": ordered[0], "median": statistics.median(ordered), "max": ordered[-1], "n": len(ordered)}


def burst_rates(
    device: torch.device, fn, work: float, warmups: int, bursts: int, repeats: int
) -> list[float]:
    """``work`` per second of ``fn`` in each of ``bursts`` timed bursts of ``repeats`` calls, after warm-ups."""
    for _ in range(warmups):
        fn()
    return [work / _timed(device, fn, repeats) for _ in range(bursts)]


def _copy_rates(device: torch.device, nbytes: int, bursts: int, repeats: int) -> list[float]:
    """Bytes read + written per second by device-to-device copies of ``nbytes``, per burst."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    return burst_rates(device, lambda: dst.copy_(src), 2 * nbytes, 3, bursts, repeats)


def _matmul_rates(
    device: torch.device, dtype: torch.dtype, size: int, bursts: int, repeats: int
) -> list[float]:
    """FLOP/s of dense size^3 matrix products in ``dtype`` (random data), per burst."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    return burst_rates(device, lambda: torch.mm(a, b, out=out), 2 * size**3, 3, bursts, repeats)


@torch.inference_mode()
def measure_rates(device: torch.device, dtype: torch.dtype, name: str, bursts: int = 7) -> DeviceRates:
    """Copy bandwidth and matmul rate of ``device``: the median of ``bursts`` bursts, with their spread.

    GPU: 2 GiB copies and 8192^3 products in ``dtype`` (10 per burst, about 2 s in all); CPU: 256 MiB
    copies and 1024^3 products (3 per burst). The buffers go back to the allocator's cache once, after
    the measurement (the allocator stays warm; nothing is emptied before the measured runs).
    """
    cuda = device.type == "cuda"
    copies = _copy_rates(device, (2048 if cuda else 256) * MIB, bursts, 10 if cuda else 3)
    products = _matmul_rates(device, dtype, 8192 if cuda else 1024, bursts, 10 if cuda else 3)
    if cuda:
        torch.cuda.empty_cache()
    return DeviceRates(
        name=name,
        copy_bytes_per_s=statistics.median(copies),
        matmul_flops_per_s=statistics.median(products),
        matmul_dtype=str(dtype).removeprefix("torch."),
        memory_bytes=torch.cuda.get_device_properties(device).total_memory if cuda else None,
        usable_bytes=usable_memory_bytes(device),
        copy_spread=spread(copies),
        matmul_spread=spread(products),
    )


def usable_memory_bytes(device: torch.device) -> int | None:
    """Memory this process's allocator can use: free after the CUDA context (and other processes) plus what
    the allocator already holds (None off CUDA)."""
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free) + int(torch.cuda.memory_reserved(device))


def device_profiles() -> dict[str, DeviceRates]:
    """The named device profiles of ``configs/devices.yaml`` (h100, h200)."""
    import yaml

    from asl.paths import CONFIG_DIR

    data = yaml.safe_load((CONFIG_DIR / "devices.yaml").read_text())
    numbers = ("copy_bytes_per_s", "matmul_flops_per_s", "memory_bytes")  # YAML 1.1 reads 3.0e12 as text
    return {
        k: DeviceRates.from_dict(
            {**v, **{f: float(v[f]) for f in numbers[:2]}, "memory_bytes": int(v[numbers[2]])}
        )
        for k, v in data.items()
        if isinstance(v, dict)
    }


def device_profile(name: str) -> DeviceRates:
    """One profile by name; a one-line ValueError lists the known ones."""
    profiles = device_profiles()
    if name not in profiles:
        raise ValueError(f"unknown device_profile {name!r}; choose one of: {', '.join(profiles)}")
    return profiles[name]


def profile_prefill_efficiency() -> float:
    """The share of the matmul rate a prefill reaches, as the profiles assume."""
    import yaml

    from asl.paths import CONFIG_DIR

    return float(yaml.safe_load((CONFIG_DIR / "devices.yaml").read_text())["prefill_efficiency"])
