"""Efficiency benchmark (``scripts/bench_efficiency.py``, ``make bench-efficiency``; methods.md §10).

``asl.efficiency.bench.run`` loads the model once, measures every method configuration at every length
(warm-ups, interleaved repeats, synchronised timings, per-phase peaks) and writes efficiency.csv / .md /
meta.json. The ideal cost and the KV arithmetic are asked of each method (``asl.cost_model``).
"""
