"""Uncertainty of accuracies and of differences between methods: pure functions, deterministic.

Scores are per-sample values in [0, 1]; accuracies are reported in percent with a 95% interval:

* one proportion (every score 0 or 1): the Wilson score interval;
* fractional scores of one task: a percentile bootstrap (deviations scaled by sqrt(n / (n - 1)), the
  small-sample correction of the bootstrap variance) with a fixed seed, so tables are reproducible byte
  for byte; the Wilson interval of the same mean and n when every score is equal (no spread to resample);
* a mean over strata (the paper's task mean, "Avg."): the Wilson interval of the weighted mean at its
  effective sample size n_eff = 1 / sum(w_s^2 / n_s) (Kish). This is conservative: a [0, 1] score with mean
  p has variance at most p(1 - p), and stratification only removes variance; unlike a bootstrap it does not
  collapse when a task's few samples all agree (0 of 12);
* a paired difference (two methods on the same samples): with binary scores and as many pairs in every
  stratum, McNemar's exact test and the matching exact interval (Clopper-Pearson on the share of the
  discordant pairs won by A, mapped to points: the interval excludes 0 exactly when p < 0.05); otherwise a
  stratified paired bootstrap interval with a sign-flip randomization test (McNemar when binary).

A difference is called significant only when its interval excludes 0 *and* p < 0.05; otherwise it is
"within noise".
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile
LEVEL = 0.95
N_BOOT = 2000
SEED = 20260107  # fixed: the same scores always give the same interval


@dataclass(frozen=True)
class Estimate:
    """A mean accuracy in percent with its 95% interval, the sample count and how it was computed."""

    value: float
    lo: float
    hi: float
    n: int
    method: str  # "wilson" | "bootstrap" | "wilson-neff" (a mean over strata)

    def text(self, digits: int = 1) -> str:
        """``60.0 [31.3, 83.2]``."""
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


@dataclass(frozen=True)
class Difference:
    """Method A minus method B in percentage points over the samples both scored."""

    delta: float
    lo: float
    hi: float
    n_pairs: int
    p_value: float
    test: str  # "mcnemar" | "sign-flip"

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0 and p < 0.05."""
        return self.p_value < 1 - LEVEL and (self.lo > 0 or self.hi < 0)

    @property
    def verdict(self) -> str:
        """``better`` / ``worse`` (A against B) when significant, else ``within noise``."""
        if not self.significant:
            return "within noise"
        return "better" if self.delta > 0 else "worse"

    def text(self, digits: int = 1) -> str:
        """``+5.0 [-10.0, 20.0] p=0.63``."""
        return (
            f"{self.delta:+.{digits}f} [{self.lo:+.{digits}f}, {self.hi:+.{digits}f}] p={_p_text(self.p_value)}"
        )


def _p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def is_binary(values: Sequence[float]) -> bool:
    """Every value is 0 or 1."""
    return all(v in (0, 1) for v in values)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the proportion k / n (as proportions); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n], got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _strata_arrays(strata: Mapping[Hashable, Sequence[float]]) -> list[np.ndarray]:
    arrays = [np.asarray(list(v), dtype=float) for v in strata.values()]
    if not arrays or any(a.size == 0 for a in arrays):
        raise ValueError("every stratum needs at least one score")
    return arrays


def _weights(strata: Mapping[Hashable, Sequence[float]], weights: Mapping[Hashable, float] | None) -> np.ndarray:
    if weights is None:
        return np.full(len(strata), 1.0 / len(strata))
    w = np.asarray([float(weights[k]) for k in strata], dtype=float)
    return w / w.sum()


def _bootstrap_means(arrays: list[np.ndarray], w: np.ndarray, n_boot: int) -> np.ndarray:
    """Weighted mean of per-stratum means over ``n_boot`` resamples (within each stratum); each stratum's
    deviation from its mean is scaled by sqrt(n / (n - 1)), so the resampled variance is unbiased."""
    rng = _rng()
    total = np.zeros(n_boot)
    for a, weight in zip(arrays, w, strict=True):
        idx = rng.integers(0, a.size, size=(n_boot, a.size))
        scale = math.sqrt(a.size / (a.size - 1)) if a.size > 1 else 1.0
        total += weight * (a.mean() + scale * (a[idx].mean(axis=1) - a.mean()))
    return total


def _percentiles(draws: np.ndarray) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return float(lo), float(hi)


def wilson_mean_interval(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson interval of a mean ``p`` in [0, 1] at a (possibly fractional) sample size ``n``."""
    p = min(1.0, max(0.0, p))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def stratified_estimate(
    strata: Mapping[Hashable, Sequence[float]],
    weights: Mapping[Hashable, float] | None = None,
    n_boot: int = N_BOOT,
) -> Estimate:
    """Weighted mean (default: equal weights) of the strata's mean scores, in percent, with a 95% interval:
    Wilson for one binary stratum, a bootstrap for one fractional stratum, Wilson at the effective sample
    size for several strata (see the module docstring)."""
    arrays = _strata_arrays(strata)
    w = _weights(strata, weights)
    value = float(sum(weight * a.mean() for a, weight in zip(arrays, w, strict=True)))
    n = int(sum(a.size for a in arrays))
    if len(arrays) == 1 and is_binary(arrays[0].tolist()):
        lo, hi = wilson_interval(int(arrays[0].sum()), arrays[0].size)
        return Estimate(100 * value, 100 * lo, 100 * hi, n, "wilson")
    if len(arrays) == 1 and not np.all(arrays[0] == arrays[0][0]):
        lo, hi = _percentiles(_bootstrap_means(arrays, w, n_boot))
        return Estimate(100 * value, 100 * min(lo, value), 100 * max(hi, value), n, "bootstrap")
    n_eff = 1.0 / float(sum(weight**2 / a.size for a, weight in zip(arrays, w, strict=True)))
    lo, hi = wilson_mean_interval(value, n_eff)
    return Estimate(100 * value, 100 * min(lo, value), 100 * max(hi, value), n, "wilson-neff")


def accuracy_estimate(scores: Sequence[float], n_boot: int = N_BOOT) -> Estimate | None:
    """Mean of ``scores`` in percent with its 95% interval (Wilson when binary); None without scores."""
    scores = [float(s) for s in scores]
    return stratified_estimate({0: scores}, n_boot=n_boot) if scores else None


def _log_pmf(i: int, n: int, p: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0.0 or p >= 1.0:
        return 1.0 if p <= 0.0 or k >= n else 0.0
    return min(1.0, sum(math.exp(_log_pmf(i, n, p)) for i in range(k + 1)))


def _solve(f, target: float) -> float:
    """The p in (0, 1) where the decreasing function ``f`` equals ``target`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > target else (lo, mid)
    return (lo + hi) / 2


def clopper_pearson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a proportion k / n; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    tail = (1 - level) / 2
    lo = 0.0 if k == 0 else _solve(lambda p: _binom_cdf(k - 1, n, p), 1 - tail)
    hi = 1.0 if k == n else _solve(lambda p: _binom_cdf(k, n, p), tail)
    return lo, hi


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def _sign_flip_p(diffs: list[np.ndarray], w: np.ndarray, n_draws: int) -> float:
    """Two-sided Monte Carlo sign-flip (paired randomization) p-value of the weighted mean difference."""
    observed = abs(sum(weight * d.mean() for d, weight in zip(diffs, w, strict=True)))
    rng = _rng()
    total = np.zeros(n_draws)
    for d, weight in zip(diffs, w, strict=True):
        signs = rng.choice((-1.0, 1.0), size=(n_draws, d.size))
        total += weight * (signs * d).mean(axis=1)
    return float((np.sum(np.abs(total) >= observed - 1e-12) + 1) / (n_draws + 1))


def paired_difference(
    a: Mapping[Hashable, Mapping[Hashable, float]],
    b: Mapping[Hashable, Mapping[Hashable, float]],
    weights: Mapping[Hashable, float] | None = None,
    n_boot: int = N_BOOT,
) -> Difference | None:
    """A − B in points: ``a`` and ``b`` map stratum -> sample key -> score; only samples both scored are
    paired, strata without a pair are dropped (their weight too). None when nothing pairs."""
    strata = {s: sorted(set(a[s]) & set(b.get(s, {})), key=str) for s in a}
    strata = {s: keys for s, keys in strata.items() if keys}
    if not strata:
        return None
    xa = {s: np.asarray([a[s][k] for k in keys], dtype=float) for s, keys in strata.items()}
    xb = {s: np.asarray([b[s][k] for k in keys], dtype=float) for s, keys in strata.items()}
    w = _weights(strata, None if weights is None else {s: weights[s] for s in strata})
    diffs = [xa[s] - xb[s] for s in strata]
    delta = float(sum(weight * d.mean() for d, weight in zip(diffs, w, strict=True)))
    n_pairs = int(sum(d.size for d in diffs))
    lo, hi = _percentiles(_bootstrap_means(diffs, w, n_boot))
    lo, hi = min(lo, delta), max(hi, delta)
    binary = all(is_binary(x.tolist()) for x in (*xa.values(), *xb.values()))
    if not binary:
        return Difference(100 * delta, 100 * lo, 100 * hi, n_pairs, _sign_flip_p(diffs, w, n_boot * 5), "sign-flip")
    b_only = int(sum(np.sum(d == 1) for d in diffs))
    c_only = int(sum(np.sum(d == -1) for d in diffs))
    p = mcnemar_exact(b_only, c_only)
    if len({d.size for d in diffs}) == 1 and np.allclose(w, w[0]):  # the Avg. is the pooled difference
        share_lo, share_hi = clopper_pearson(b_only, b_only + c_only)
        m = b_only + c_only
        lo, hi = (m * (2 * share_lo - 1) / n_pairs, m * (2 * share_hi - 1) / n_pairs) if m else (0.0, 0.0)
    return Difference(100 * delta, 100 * lo + 0.0, 100 * hi + 0.0, n_pairs, p, "mcnemar")
