"""Per-request, per-phase peak memory: CUDA allocator peaks, or the peak RSS growth of the process on CPU."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil
import torch

CUDA_KIND = "cuda_max_allocated"
CPU_KIND = "cpu_rss_peak_delta"


@dataclass(frozen=True)
class PhasePeak:
    """Peak memory of one phase of a request (reserved: CUDA only)."""

    allocated: int
    reserved: int | None


class PeakMemory:
    """Context manager measuring the peak memory of one request, phase by phase (``next_phase``).

    * CUDA: ``reset_peak_memory_stats`` at the start of every phase; ``max_memory_allocated`` /
      ``max_memory_reserved`` at its end (absolute, weights included).
    * CPU: a sampling thread (every ``interval_s``) records the process RSS; a phase's value is its peak
      RSS minus the RSS at the start of the request, i.e. the extra resident memory the request needed so
      far (kind ``cpu_rss_peak_delta``).

    ``peak_bytes`` / ``peak_reserved_bytes`` are the maxima over the phases.
    """

    def __init__(self, device: torch.device, interval_s: float = 0.002, phase: str = "prefill"):
        self.device, self.interval_s = device, interval_s
        self.kind = CUDA_KIND if device.type == "cuda" else CPU_KIND
        self.phases: dict[str, PhasePeak] = {}
        self._phase = phase
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def peak_bytes(self) -> int:
        return max((p.allocated for p in self.phases.values()), default=0)

    @property
    def peak_reserved_bytes(self) -> int | None:
        values = [p.reserved for p in self.phases.values() if p.reserved is not None]
        return max(values) if values else None

    def __enter__(self) -> PeakMemory:
        if self.kind == CUDA_KIND:
            self._reset_cuda()
            return self
        self._process = psutil.Process()
        self._base = self._peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _reset_cuda(self) -> None:
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = self._process.memory_info().rss
            with self._lock:
                self._peak = max(self._peak, rss)

    def _close_phase(self) -> None:
        if self.kind == CUDA_KIND:
            torch.cuda.synchronize(self.device)
            peak = PhasePeak(
                int(torch.cuda.max_memory_allocated(self.device)),
                int(torch.cuda.max_memory_reserved(self.device)),
            )
        else:
            rss = self._process.memory_info().rss
            with self._lock:
                peak = PhasePeak(int(max(self._peak, rss) - self._base), None)
                self._peak = rss
        self.phases[self._phase] = peak

    def next_phase(self, name: str) -> None:
        """End the current phase (record its peak) and start ``name`` with fresh peak counters."""
        self._close_phase()
        self._phase = name
        if self.kind == CUDA_KIND:
            self._reset_cuda()

    def __exit__(self, *exc) -> None:
        if self.kind != CUDA_KIND:
            self._stop.set()
            self._thread.join()
        self._close_phase()
