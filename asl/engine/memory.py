"""Per-request peak memory: CUDA allocator peaks, or the peak RSS growth of the process on CPU."""

from __future__ import annotations

import threading

import psutil
import torch

CUDA_KIND = "cuda_max_allocated"
CPU_KIND = "cpu_rss_peak_delta"


class PeakMemory:
    """Context manager measuring the peak memory of one request.

    * CUDA: ``reset_peak_memory_stats`` on entry; ``max_memory_allocated`` / ``max_memory_reserved`` on exit
      (absolute, weights included).
    * CPU: a sampling thread (every ``interval_s``) records the process RSS; the result is the peak RSS
      minus the RSS at entry, i.e. the extra resident memory the request needed (kind ``cpu_rss_peak_delta``).
    """

    def __init__(self, device: torch.device, interval_s: float = 0.002):
        self.device, self.interval_s = device, interval_s
        self.kind = CUDA_KIND if device.type == "cuda" else CPU_KIND
        self.peak_bytes = 0
        self.peak_reserved_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.kind == CUDA_KIND:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        self._process = psutil.Process()
        self._base = self._peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        if self.kind == CUDA_KIND:
            torch.cuda.synchronize(self.device)
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
            self.peak_reserved_bytes = int(torch.cuda.max_memory_reserved(self.device))
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_bytes = int(self._peak - self._base)
