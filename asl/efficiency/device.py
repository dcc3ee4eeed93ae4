"""The device's ceilings, measured once per run: memory bandwidth (a device copy) and dense matmul rate.

They turn the cost model's bytes and FLOPs into time floors: a decode step cannot beat the bytes it must
read over the copy bandwidth, a prefill cannot beat its FLOPs over the dense matmul rate.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

MIB = 1024**2


@dataclass(frozen=True)
class DeviceRates:
    """Measured (or assumed, for predictions) ceilings of one device."""

    name: str
    copy_bytes_per_s: float  # bytes read + written per second by a device-to-device copy
    matmul_flops_per_s: float  # dense matrix product in ``matmul_dtype``
    matmul_dtype: str
    memory_bytes: int | None = None  # total device memory (GPU), None on CPU
    source: str = "measured"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceRates:
        """From a config node (``reference_device``) or a meta.json entry."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**{"matmul_dtype": "bfloat16", "source": "assumed", **known})


def _timed(device: torch.device, fn, warmups: int, repeats: int) -> float:
    """Mean seconds of ``fn`` over ``repeats`` after ``warmups`` (CUDA events on CUDA)."""
    for _ in range(warmups):
        fn()
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


def _copy_rate(device: torch.device, nbytes: int, repeats: int) -> float:
    """Bytes read + written per second by a device-to-device copy of ``nbytes``."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    return 2 * nbytes / _timed(device, lambda: dst.copy_(src), 3, repeats)


def _matmul_rate(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """FLOP/s of a dense size^3 matrix product in ``dtype`` (random data)."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    return 2 * size**3 / _timed(device, lambda: torch.mm(a, b, out=out), 3, repeats)


@torch.inference_mode()
def measure_rates(device: torch.device, dtype: torch.dtype, name: str) -> DeviceRates:
    """Copy bandwidth and matmul rate of ``device`` (about a second on a GPU, a few on 2 CPU cores).

    GPU: a 2 GiB copy and 8192^3 products in ``dtype``; CPU: a 256 MiB copy and 1024^3 products.
    """
    cuda = device.type == "cuda"
    copy = _copy_rate(device, (2048 if cuda else 256) * MIB, 10 if cuda else 5)
    matmul = _matmul_rate(device, dtype, 8192 if cuda else 1024, 10 if cuda else 5)
    if cuda:
        torch.cuda.empty_cache()
    return DeviceRates(
        name=name,
        copy_bytes_per_s=copy,
        matmul_flops_per_s=matmul,
        matmul_dtype=str(dtype).removeprefix("torch."),
        memory_bytes=torch.cuda.get_device_properties(device).total_memory if cuda else None,
    )
