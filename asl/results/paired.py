"""Paired differences between two methods on the same samples: exact tests and score-based intervals.

``A − B`` is a weighted mean over strata (tasks, lengths) of the per-stratum mean paired differences; strata
are always taken in one fixed order (sorted), so nothing depends on how a caller ordered them.

* Every score 0/1 and every stratum of the same n and weight (the Avg. is then the pooled difference):
  Newcombe's hybrid score interval (1998, method 10) on the pooled 2x2 table and McNemar's exact test.
* Otherwise: MOVER over the strata's own intervals (Newcombe for 0/1 strata, t for fractional ones) and
  the exact stratified sign-flip (paired randomization) test. Scores lie on a rational grid (k / q), so the
  null distribution of the weighted sum is an exact convolution of two-point distributions; when the grid
  is too fine it falls back to :data:`MC_DRAWS` draws and reports the Monte Carlo standard error.

With 0/1 scores at equal n and weights the sign-flip test *is* McNemar's exact test. A difference is
called only when its (Holm-adjusted, where a family is declared) p < 0.05 and its interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from asl.results.stats import (
    LEVEL,
    Z95,
    check_scores,
    detectable_difference,
    is_binary,
    mover,
    normalised_weights,
    p_text,
    std_error,
    t_quantile,
    wilson_interval,
)

MC_DRAWS = 100_000
MC_SEED = 20260107  # fixed: the same scores always give the same Monte Carlo p
MAX_GRID = 2_000_000  # support points of the exact null distribution before falling back to Monte Carlo
MAX_DENOMINATOR = 10_000  # scores k / q with q up to this are on the exact grid


@dataclass(frozen=True)
class Difference:
    """Method A minus method B in percentage points over the samples both scored."""

    delta: float
    lo: float
    hi: float
    n_pairs: int
    p_value: float
    test: str  # "mcnemar" | "sign-flip" | "sign-flip-mc"
    interval: str = "newcombe"  # "newcombe" | "mover"
    se: float | None = None  # standard error of the difference, points
    discordant: tuple[int, int] | None = None  # 0/1 pairs: (A right and B wrong, A wrong and B right)
    identical: bool = False  # A and B scored every pair the same
    mdd: float | None = None  # smallest difference detectable with 80% power at this n, points
    mc_error: float | None = None  # Monte Carlo standard error of p (sign-flip-mc)
    p_adjusted: float | None = None  # Holm-adjusted p within the comparison's declared family
    exploratory: bool = False  # a data-chosen comparison (no multiplicity control)

    @property
    def p_decision(self) -> float:
        """The p the verdict uses: the adjusted one where the comparison belongs to a family."""
        return self.p_value if self.p_adjusted is None else self.p_adjusted

    @property
    def significant(self) -> bool:
        """True when the deciding p < 0.05 and the interval excludes 0."""
        return self.p_decision < 1 - LEVEL and (self.lo > 0 or self.hi < 0)

    @property
    def verdict(self) -> str:
        """``better`` / ``worse`` (A against B) when significant, else ``within noise`` (``identical``)."""
        if self.identical:
            return "identical"
        if not self.significant:
            return "within noise"
        return "better" if self.delta > 0 else "worse"

    def text(self, digits: int = 1) -> str:
        """``+5.0 [-10.0, 20.0] p=0.63`` (``p=0.012 (adj 0.048)``), or ``identical on 48 samples``."""
        if self.identical:
            return f"identical on {self.n_pairs} samples"
        p = f"p={p_text(self.p_value)}"
        if self.mc_error is not None:
            p += f"±{self.mc_error:.3f}"
        if self.p_adjusted is not None:
            p += f" (adj {p_text(self.p_adjusted)})"
        return f"{self.delta:+.{digits}f} [{self.lo:+.{digits}f}, {self.hi:+.{digits}f}] {p}"


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def newcombe_paired(a: int, b: int, c: int, d: int) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) for p1 − p2 of a paired 2x2 table: ``a`` both
    right, ``b`` only the first right, ``c`` only the second right, ``d`` both wrong (proportions)."""
    n = a + b + c + d
    if n == 0:
        return -1.0, 1.0
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n)
    l2, u2 = wilson_interval(a + c, n)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    phi = 0.0 if margins == 0 else (max(cross - n / 2, 0) if cross > 0 else cross) / math.sqrt(margins)
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    diff = p1 - p2
    return max(-1.0, diff - dl), min(1.0, diff + du)


def table_2x2(x: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
    """(both 1, only x, only y, both 0) of paired 0/1 arrays."""
    return (int(np.sum((x == 1) & (y == 1))), int(np.sum((x == 1) & (y == 0))),
            int(np.sum((x == 0) & (y == 1))), int(np.sum((x == 0) & (y == 0))))  # fmt: skip


def stratum_diff_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """One stratum's interval of mean(x − y): Newcombe for 0/1 pairs, else t (the whole [-1, 1] range
    when n = 1); always inside [-1, 1]."""
    if is_binary(x.tolist()) and is_binary(y.tolist()):
        return newcombe_paired(*table_2x2(x, y))
    d = x - y
    if d.size < 2:
        return -1.0, 1.0
    m, half = float(d.mean()), t_quantile(d.size - 1) * std_error(d)
    return max(-1.0, m - half), min(1.0, m + half)


def _fraction(value: float) -> Fraction | None:
    """``value`` as an exact fraction with a small denominator, or None when it is not on such a grid."""
    frac = Fraction(value).limit_denominator(MAX_DENOMINATOR)
    return frac if abs(float(frac) - value) < 1e-9 else None


def grid_values(diffs: list[np.ndarray], weights: list[float]) -> list[int] | None:
    """Each pair's signed contribution w_s d_i / n_s to the statistic as an integer on one common grid
    (zeros dropped), or None when some value is not on a small rational grid or the grid is too fine."""
    fracs: list[Fraction] = []
    for d, w in zip(diffs, weights, strict=True):
        wf = _fraction(w)
        for v in d.tolist():
            f = _fraction(v)
            if wf is None or f is None:
                return None
            if f:
                fracs.append(wf * f / d.size)
    scale = math.lcm(*(f.denominator for f in fracs)) if fracs else 1
    values = [int(f * scale) for f in fracs]
    return None if 2 * sum(map(abs, values)) + 1 > MAX_GRID else values


def null_distribution(values: list[int]) -> np.ndarray:
    """P(sum s_i |v_i| = k) for k = -T .. T (T = sum |v_i|), with independent fair signs s_i."""
    sizes = [abs(v) for v in values if v]
    total = sum(sizes)
    dist = np.zeros(2 * total + 1)
    dist[total] = 1.0
    for v in sizes:
        dist = 0.5 * (np.roll(dist, v) + np.roll(dist, -v))  # the support never reaches the ends: no wrap
    return dist


def sign_flip(diffs: list[np.ndarray], weights: list[float]) -> tuple[float, float | None]:
    """(p, Monte Carlo standard error or None) of the two-sided stratified sign-flip test of
    sum w_s mean(d_s): exact on the rational grid, else Monte Carlo."""
    grid = grid_values(diffs, weights)
    if grid is None:
        return _monte_carlo(diffs, weights)
    observed = abs(sum(grid))
    total = sum(map(abs, grid))
    ks = np.arange(-total, total + 1)
    return float(min(1.0, null_distribution(grid)[np.abs(ks) >= observed].sum())), None


def _monte_carlo(diffs: list[np.ndarray], weights: list[float]) -> tuple[float, float]:
    """Monte Carlo sign-flip p with :data:`MC_DRAWS` draws and its standard error."""
    observed = abs(sum(w * d.mean() for d, w in zip(diffs, weights, strict=True)))
    rng = np.random.default_rng(MC_SEED)
    total = np.zeros(MC_DRAWS)
    for d, w in zip(diffs, weights, strict=True):
        signs = rng.choice((-1.0, 1.0), size=(MC_DRAWS, d.size))
        total += w * (signs * d).mean(axis=1)
    p = float((np.sum(np.abs(total) >= observed - 1e-12) + 1) / (MC_DRAWS + 1))
    return p, math.sqrt(p * (1 - p) / MC_DRAWS)


def _pairs(
    a: Mapping[Hashable, Mapping[Hashable, float]], b: Mapping[Hashable, Mapping[Hashable, float]]
) -> dict[Hashable, tuple[np.ndarray, np.ndarray]]:
    """Stratum -> (A's, B's) scores of the samples both scored, strata sorted, empty strata dropped."""
    out = {}
    for s in sorted(a, key=str):
        keys = sorted(set(a[s]) & set(b.get(s, {})), key=str)
        if keys:
            x = [float(a[s][k]) for k in keys]
            y = [float(b[s][k]) for k in keys]
            check_scores(x, f"stratum {s} (A)")
            check_scores(y, f"stratum {s} (B)")
            out[s] = (np.asarray(x), np.asarray(y))
    return out


def paired_difference(
    a: Mapping[Hashable, Mapping[Hashable, float]],
    b: Mapping[Hashable, Mapping[Hashable, float]],
    weights: Mapping[Hashable, float] | None = None,
) -> Difference | None:
    """A − B in points: ``a`` and ``b`` map stratum -> sample key -> score; only samples both scored are
    paired, strata without a pair are dropped (their weight too). None when nothing pairs."""
    pairs = _pairs(a, b)
    if not pairs:
        return None
    w = normalised_weights(list(pairs), None if weights is None else {s: weights[s] for s in pairs})
    ws = [w[s] for s in pairs]
    diffs = [x - y for x, y in pairs.values()]
    delta = float(sum(wi * d.mean() for wi, d in zip(ws, diffs, strict=True)))
    n_pairs = int(sum(d.size for d in diffs))
    se = math.sqrt(sum((wi * std_error(d)) ** 2 for wi, d in zip(ws, diffs, strict=True)))
    sd0 = math.sqrt(sum(wi * wi * float(np.mean(d * d)) / d.size for wi, d in zip(ws, diffs, strict=True)))
    common = dict(n_pairs=n_pairs, se=100 * se, mdd=100 * detectable_difference(sd0, 1.0) if sd0 else None)
    if all(not d.any() for d in diffs):
        return Difference(
            0.0, 0.0, 0.0, p_value=1.0, test="identical", interval="none", identical=True, **common
        )
    binary = all(is_binary(x.tolist()) and is_binary(y.tolist()) for x, y in pairs.values())
    pooled = binary and len({d.size for d in diffs}) == 1 and np.allclose(ws, ws[0])
    if binary:
        tables = [table_2x2(x, y) for x, y in pairs.values()]
        common["discordant"] = (sum(t[1] for t in tables), sum(t[2] for t in tables))
    if pooled:
        cells = [sum(t[i] for t in tables) for i in range(4)]
        lo, hi = newcombe_paired(*cells)
        p = mcnemar_exact(cells[1], cells[2])
        return Difference(100 * delta, 100 * lo, 100 * hi, test="mcnemar", p_value=p, **common)
    parts = []
    for wi, (x, y) in zip(ws, pairs.values(), strict=True):
        lo_s, hi_s = stratum_diff_interval(x, y)
        parts.append((wi, float((x - y).mean()), lo_s, hi_s))
    lo, hi = mover(delta, parts)
    lo, hi = max(-1.0, min(lo, delta)), min(1.0, max(hi, delta))
    p, mc = sign_flip(diffs, ws)
    test = "sign-flip" if mc is None else "sign-flip-mc"
    return Difference(100 * delta, 100 * lo, 100 * hi, test=test, p_value=p, interval="mover", mc_error=mc,
                      **common)  # fmt: skip


__all__ = ["Z95", "Difference", "mcnemar_exact", "newcombe_paired", "paired_difference", "sign_flip"]
