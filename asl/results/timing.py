"""Per-method TTFT/TPOT ratios to Full KV from an interleaved timing measurement (``timing.csv``).

Accuracy runs executed one after another do not give comparable timings (the first method of an
invocation pays the warm-up; machine load drifts), and a shared-prefill run times no single method. The
timing behind Table 2's ratio column therefore comes from ``make bench-sharing`` on the table's own
prompts and settings: every prompt runs every method alone, in an order that rotates from prompt to
prompt, and each method's TTFT and TPOT are divided by Full KV's on the same prompt. This module holds the
pure statistics and the file both the writer and Table 2 read.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from asl.results.stats import t_quantile

TIMING_FILE = "timing.csv"


@dataclass(frozen=True)
class TimingRatio:
    """One method's mean per-prompt ratio to the baseline, with its 95% t interval over prompts."""

    method: str
    label: str
    prompts: int
    ttft_ratio: float
    ttft_lo: float
    ttft_hi: float
    tpot_ratio: float
    tpot_lo: float
    tpot_hi: float
    source: str


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean with its 95% t interval (a single value: the value, no spread)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, mean, mean
    half = t_quantile(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def per_prompt_ratios(times: dict[str, list[float]], baseline: str) -> dict[str, list[float]]:
    """Method -> its time divided by the baseline's on the same prompt (prompts where both were timed)."""
    base = times[baseline]
    return {
        m: [t / b for t, b in zip(ts, base, strict=True) if t is not None and b] for m, ts in times.items()
    }


def timing_ratios(ttft: dict[str, list[float]], tpot: dict[str, list[float]], labels: dict[str, str],
                  baseline: str, source: str) -> list[TimingRatio]:  # fmt: skip
    """One :class:`TimingRatio` per method from per-prompt TTFT and TPOT lists (aligned by prompt)."""
    r_ttft, r_tpot = per_prompt_ratios(ttft, baseline), per_prompt_ratios(tpot, baseline)
    out = []
    for method in ttft:
        t = mean_interval(r_ttft[method])
        p = mean_interval(r_tpot.get(method, []))
        out.append(TimingRatio(method, labels.get(method, method), len(r_ttft[method]), *t, *p, source))
    return out


def timing_csv(rows: list[TimingRatio]) -> str:
    """The CSV text of ``rows``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[f.name for f in fields(TimingRatio)], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in asdict(row).items()})
    return buf.getvalue()


def read_timing(path: Path) -> dict[str, TimingRatio]:
    """Method name -> its ratio row from a ``timing.csv`` (empty when the file is absent)."""
    if not path.is_file():
        return {}
    out = {}
    with path.open(encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            kw = {
                f.name: (float(raw[f.name]) if f.type == "float" else raw[f.name])
                for f in fields(TimingRatio)
            }
            kw["prompts"] = int(raw["prompts"])
            out[kw["method"]] = TimingRatio(**kw)
    return out
