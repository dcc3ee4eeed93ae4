"""Uncertainty of accuracies: pure, deterministic functions (no resampling, no random seed).

Scores are per-sample values in [0, 1] (:func:`check_scores` rejects anything else); accuracies are reported
in percent with a 95% interval that always stays inside [0, 100]:

* one task scored 0/1: the Wilson score interval;
* one task with fractional scores: the t interval of the mean (clipped to [0, 1]); the Wilson interval at
  n when every score is equal (no spread to estimate), or when n = 1;
* a weighted mean over strata (the paper's task mean, "Avg."): MOVER (Zou & Donner 2008) over the
  strata's own limits, ``L = m - sqrt(sum w^2 (m_s - l_s)^2)``, ``U = m + sqrt(sum w^2 (u_s - m_s)^2)``.

Every estimate also carries its standard error (the sample standard deviation over sqrt(n), combined over
strata with the weights, as lm-evaluation-harness prints it) and the effective sample size
n_eff = 1 / sum(w_s^2 / n_s) (Kish). Paired differences live in :mod:`asl.results.paired`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054  # two-sided 95% normal quantile
Z80 = 0.8416212335729143  # one-sided 80% power quantile
LEVEL = 0.95


class ScoreError(ValueError):
    """A score that is not a finite number in [0, 1]."""


@dataclass(frozen=True)
class Estimate:
    """A mean accuracy in percent with its 95% interval, the sample count and how it was computed."""

    value: float
    lo: float
    hi: float
    n: int
    method: str  # "wilson" | "t" | "mover" (a mean over strata)
    se: float | None = None  # standard error, points
    n_eff: float | None = None  # effective sample size (Kish)

    def text(self, digits: int = 1) -> str:
        """``60.0 [31.3, 83.2]``."""
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def p_text(p: float) -> str:
    """``<0.001``, ``0.004``, ``0.27``."""
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def check_scores(scores: Sequence[float], where: str = "scores") -> None:
    """Raise ScoreError (one line naming ``where`` and the sample's position) for a score that is not a
    finite number in [0, 1]."""
    for i, s in enumerate(scores):
        if not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 <= s <= 1:
            raise ScoreError(f"{where}: score {s!r} of sample {i} is not a finite number in [0, 1]")


def is_binary(values: Sequence[float]) -> bool:
    """Every value is 0 or 1."""
    return all(v in (0, 1) for v in values)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the proportion k / n (as proportions); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n], got k={k}, n={n}")
    return wilson_mean_interval(k / n, n, z)


def wilson_mean_interval(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson interval of a mean ``p`` in [0, 1] at a (possibly fractional) sample size ``n``."""
    p = min(1.0, max(0.0, p))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def t_quantile(df: float) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    return float(sps.t.ppf(1 - (1 - LEVEL) / 2, df))


def std_error(x: np.ndarray) -> float:
    """Sample standard deviation over sqrt(n) (0 for one value)."""
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0


def stratum_interval(x: np.ndarray) -> tuple[float, float, str]:
    """(lo, hi, method) of one stratum's mean, as proportions: Wilson for 0/1 scores, for n = 1 or when
    every score is equal; else the t interval, clipped to [0, 1]."""
    m = float(x.mean())
    if is_binary(x.tolist()):
        return (*wilson_interval(int(x.sum()), x.size), "wilson")
    if x.size < 2 or np.all(x == x[0]):
        return (*wilson_mean_interval(m, x.size), "wilson")
    half = t_quantile(x.size - 1) * std_error(x)
    return max(0.0, m - half), min(1.0, m + half), "t"


def mover(value: float, parts: Sequence[tuple[float, float, float, float]]) -> tuple[float, float]:
    """MOVER limits of ``value = sum w_s m_s`` from (w_s, m_s, l_s, u_s) of each part."""
    lo = value - math.sqrt(sum((w * (m - lo_s)) ** 2 for w, m, lo_s, _ in parts))
    hi = value + math.sqrt(sum((w * (hi_s - m)) ** 2 for w, m, _, hi_s in parts))
    return lo, hi


def strata_arrays(strata: Mapping[Hashable, Sequence[float]]) -> dict[Hashable, np.ndarray]:
    """Strata as float arrays in a fixed order (sorted by key text); ScoreError for invalid scores."""
    out: dict[Hashable, np.ndarray] = {}
    for key in sorted(strata, key=str):
        values = [float(v) if isinstance(v, (int, float)) else v for v in strata[key]]
        check_scores(values, f"stratum {key}")
        if not values:
            raise ValueError("every stratum needs at least one score")
        out[key] = np.asarray(values, dtype=float)
    if not out:
        raise ValueError("every stratum needs at least one score")
    return out


def normalised_weights(
    keys: Sequence[Hashable], weights: Mapping[Hashable, float] | None
) -> dict[Hashable, float]:
    """Weights of ``keys`` summing to 1 (equal by default); ValueError for negative or all-zero weights."""
    if weights is None:
        return {k: 1.0 / len(keys) for k in keys}
    raw = {k: float(weights[k]) for k in keys}
    total = sum(raw.values())
    if any(not math.isfinite(w) or w < 0 for w in raw.values()) or total <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {raw}")
    return {k: w / total for k, w in raw.items()}


def n_effective(sizes: Sequence[int], weights: Sequence[float]) -> float:
    """Kish's effective sample size of a weighted mean of stratum means: 1 / sum(w_s^2 / n_s)."""
    return 1.0 / sum(w * w / n for w, n in zip(weights, sizes, strict=True) if w > 0)


def stratified_estimate(
    strata: Mapping[Hashable, Sequence[float]], weights: Mapping[Hashable, float] | None = None
) -> Estimate:
    """Weighted mean (default: equal weights) of the strata's mean scores, in percent, with its 95%
    interval (see the module docstring), standard error and n_eff."""
    arrays = strata_arrays(strata)
    w = normalised_weights(list(arrays), weights)
    value = sum(w[k] * a.mean() for k, a in arrays.items())
    n = int(sum(a.size for a in arrays.values()))
    se = math.sqrt(sum((w[k] * std_error(a)) ** 2 for k, a in arrays.items()))
    n_eff = n_effective([a.size for a in arrays.values()], list(w.values()))
    limits = {k: stratum_interval(a) for k, a in arrays.items()}
    if len(arrays) == 1:
        (lo, hi, method), value = next(iter(limits.values())), float(value)
    else:
        parts = [(w[k], float(a.mean()), limits[k][0], limits[k][1]) for k, a in arrays.items()]
        lo, hi = mover(value, parts)
        method = "mover"
    lo, hi = max(0.0, min(lo, value)), min(1.0, max(hi, value))
    return Estimate(100 * value, 100 * lo, 100 * hi, n, method, 100 * se, n_eff)


def accuracy_estimate(scores: Sequence[float]) -> Estimate | None:
    """Mean of ``scores`` in percent with its 95% interval (Wilson when binary); None without scores."""
    scores = list(scores)
    return stratified_estimate({0: scores}) if scores else None


def detectable_difference(sd: float, n: float, power_z: float = Z80) -> float:
    """Smallest true difference a two-sided 5% test detects with 80% power at ``n`` pairs, when one pair's
    difference has standard deviation ``sd`` (same units as ``sd``)."""
    return (Z95 + power_z) * sd / math.sqrt(n) if n > 0 else math.inf


def samples_needed(delta: float, sd: float = math.sqrt(0.5), power_z: float = Z80) -> int:
    """Pairs per task needed to detect a difference ``delta`` (proportion) with 80% power at 5%; ``sd``
    defaults to sqrt(0.5), the largest per-pair standard deviation of two independent 0/1 scores."""
    return math.ceil(((Z95 + power_z) * sd / delta) ** 2)
