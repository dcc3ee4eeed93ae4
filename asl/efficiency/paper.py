"""The paper's efficiency ratios to Full KV (Tables 4 and 5, RULER, KV = 2048; paper-results.md §5).

Runs are compared with the paper at the same compression N / k (k = 2048 in the paper), because the
layer-wise methods' savings depend on N / k, not on N alone.
"""

from __future__ import annotations

import math

PAPER_K = 2048
LENGTHS = (4096, 8192, 16384, 32768, 65536, 131072)
# method -> (Llama-3.1-8B-UL row, Qwen2.5-7B row) over LENGTHS
TTFT = {
    "snapkv": ((1.08, 1.05, 1.04, 1.03, 1.01, 1.01), (1.07, 1.04, 1.03, 1.02, 1.01, 1.01)),
    "fastkv": ((0.85, 0.66, 0.58, 0.53, 0.51, 0.50), (0.87, 0.69, 0.61, 0.56, 0.55, 0.54)),
    "asl": ((1.06, 0.92, 0.82, 0.61, 0.67, 0.79), (1.12, 1.03, 0.93, 0.83, 0.79, 0.81)),
    "gemfilter": ((1.11, 0.74, 0.57, 0.49, 0.45, 0.44), (1.19, 0.83, 0.66, 0.57, 0.55, 0.53)),
    "asl_2pass": ((1.65, 1.17, 0.92, 0.65, 0.69, 0.80), (1.73, 1.43, 1.25, 1.48, 0.79, 0.95)),
}
TPOT = {
    "snapkv": ((0.98, 0.94, 0.83, 0.68, 0.48, 0.30), (0.98, 0.87, 0.70, 0.48, 0.29, 0.15)),
    "fastkv": ((0.91, 0.85, 0.77, 0.62, 0.43, 0.27), (0.99, 0.88, 0.71, 0.48, 0.30, 0.15)),
    "asl": ((0.89, 0.86, 0.77, 0.62, 0.44, 0.28), (1.01, 0.89, 0.72, 0.49, 0.30, 0.15)),
    "gemfilter": ((0.81, 0.80, 0.71, 0.58, 0.40, 0.25), (0.76, 0.68, 0.55, 0.37, 0.23, 0.11)),
    "asl_2pass": ((0.80, 0.77, 0.69, 0.57, 0.41, 0.25), (0.76, 0.72, 0.62, 0.55, 0.23, 0.13)),
}


def paper_column(n: int, k: int | None) -> int | None:
    """Index of the paper length whose N / 2048 is closest (log scale) to n / k; None if k is unset."""
    if not k:
        return None
    target = math.log(n / k)
    best = min(range(len(LENGTHS)), key=lambda i: abs(math.log(LENGTHS[i] / PAPER_K) - target))
    return best if abs(math.log(LENGTHS[best] / PAPER_K) - target) < 0.5 else None


def paper_ratios(method: str, n: int, k: int | None) -> dict[str, float | int | None]:
    """Paper TTFT/TPOT ratios (Llama, Qwen) at the same compression, plus the paper length used."""
    col = paper_column(n, k)
    out: dict[str, float | int | None] = {"paper_length": None if col is None else LENGTHS[col]}
    for key, table in (("ttft", TTFT), ("tpot", TPOT)):
        rows = table.get(method)
        out[f"paper_{key}_llama"] = rows[0][col] if rows and col is not None else None
        out[f"paper_{key}_qwen"] = rows[1][col] if rows and col is not None else None
    return out
