"""Efficiency benchmark: ideal cost model, KV arithmetic, timing/memory helpers and report writer.

The entry point is ``scripts/bench_efficiency.py`` (``make bench-efficiency``); ``asl.efficiency.bench.run``
does the work. The modules import the engine (``asl.generate``) lazily, so the cost model and the KV
arithmetic work without it.
"""

from asl.efficiency.flops import ArchSpec, ideal_ttft_ratio, method_prefill_flops
from asl.efficiency.kvcheck import expected_kv_lengths, kv_bytes

__all__ = ["ArchSpec", "expected_kv_lengths", "ideal_ttft_ratio", "kv_bytes", "method_prefill_flops"]
