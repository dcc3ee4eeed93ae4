"""Known answers for the exact tests and score intervals (asl/results/paired.py, stats.py, multiplicity.py),
with scipy and statsmodels as independent oracles. Each test fails on the old bootstrap / Clopper-Pearson
code (the issue-19 cases: a one-sided discordance, a seed- and order-dependent p, out-of-range bounds)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from asl.results.multiplicity import holm, parse_families
from asl.results.paired import mcnemar_exact, newcombe_paired, paired_difference, sign_flip
from asl.results.stats import (
    ScoreError,
    accuracy_estimate,
    detectable_difference,
    samples_needed,
    stratified_estimate,
    wilson_interval,
)


# Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables" (2017), ch. 8: complete response
# before/after consolidation therapy (Cavo et al. 2012), n = [[59, 6], [16, 80]]: estimate -0.0621,
# Newcombe square-and-add (hybrid score) 95% CI -0.1186 to -0.0046.
def test_newcombe_paired_matches_the_worked_example():
    assert newcombe_paired(59, 6, 16, 80) == pytest.approx((-0.1186, -0.0046), abs=5e-5)


def test_niah_snapkv_vs_fullkv_interval_reaches_minus_100_plausibly():
    """Full KV 14/15 against SnapKV 0/15: the old exact-conditional interval ended at the estimate
    (-93.3 [-93.3, -50.1]); Newcombe's covers -100's neighbourhood."""
    a = {"L": {i: 0.0 for i in range(15)}}
    b = {"L": {i: 1.0 if i < 14 else 0.0 for i in range(15)}}
    diff = paired_difference(a, b)
    assert diff.test == "mcnemar" and diff.interval == "newcombe"
    assert (round(diff.delta, 1), round(diff.lo, 1), round(diff.hi, 1)) == (-93.3, -98.8, -62.5)
    assert diff.lo < diff.delta and diff.discordant == (0, 14)


def _enumerate_p(diffs: list[np.ndarray], weights: list[float]) -> float:
    observed = abs(sum(w * d.mean() for d, w in zip(diffs, weights, strict=True)))
    terms = [(w / d.size, v) for d, w in zip(diffs, weights, strict=True) for v in d]
    hits = total = 0
    for signs in itertools.product((-1, 1), repeat=len(terms)):
        total += 1
        hits += abs(sum(s * c * v for s, (c, v) in zip(signs, terms, strict=True))) >= observed - 1e-12
    return hits / total


@pytest.mark.parametrize(
    "diffs, weights",
    [
        ([[1 / 3, -2 / 3, 1.0, 0.0, 1 / 3], [0.5, -0.1, 0.2]], [0.5, 0.5]),
        ([[1.0, 1.0, -1.0, 0.0], [0.1, 0.3, 0.3, -0.2, 0.1, 0.7]], [0.25, 0.75]),
        ([[0.2, 0.4, 0.6, -0.2, 0.8, 1.0, -0.4, 0.2, 0.2, 0.4, 0.6, 0.1]], [1.0]),
    ],
)
def test_exact_sign_flip_equals_full_enumeration(diffs, weights):
    arrays = [np.asarray(d) for d in diffs]
    p, mc_error = sign_flip(arrays, weights)
    assert mc_error is None and p == pytest.approx(_enumerate_p(arrays, weights), abs=1e-12)


def test_sign_flip_on_0_1_pairs_is_mcnemar():
    for b, c in [(0, 5), (3, 9), (7, 7), (12, 2)]:
        d = np.asarray([1.0] * b + [-1.0] * c + [0.0] * 4)
        assert sign_flip([d], [1.0])[0] == pytest.approx(mcnemar_exact(b, c))
        assert mcnemar_exact(b, c) == pytest.approx(sps.binomtest(min(b, c), b + c).pvalue if b + c else 1.0)


def test_sign_flip_does_not_depend_on_stratum_order_or_a_seed():
    a = {"t1": {i: (i % 3) / 3 for i in range(12)}, "t2": {i: float(i % 2) for i in range(12)}}
    b = {"t1": {i: ((i + 1) % 3) / 3 for i in range(12)}, "t2": {i: float(i % 4 == 0) for i in range(12)}}
    one = paired_difference(a, b)
    two = paired_difference(dict(reversed(list(a.items()))), dict(reversed(list(b.items()))))
    assert one == two and one.test == "sign-flip" and one.mc_error is None


def test_off_grid_scores_fall_back_to_monte_carlo_with_its_error():
    rng = np.random.default_rng(0)
    a = {"t": {i: float(x) for i, x in enumerate(rng.uniform(0.3, 1, 20))}}
    b = {"t": {i: float(x) for i, x in enumerate(rng.uniform(0, 0.7, 20))}}
    diff = paired_difference(a, b)
    assert diff.test == "sign-flip-mc" and 0 < diff.mc_error < 0.002
    assert "±" in diff.text()


def test_unequal_strata_never_pool_mcnemar():
    """A pooled McNemar p on an equal-weight difference of strata of different n: the constructed case
    where pooling says "worse" while the weighted difference is positive."""
    a = {"big": {i: 0.0 if i < 20 else 1.0 for i in range(40)}, "small": {i: 1.0 for i in range(4)}}
    b = {"big": {i: 1.0 if i < 20 else 1.0 for i in range(40)}, "small": {i: 0.0 for i in range(4)}}
    diff = paired_difference(a, b)
    assert diff.delta > 0 and diff.test == "sign-flip" and diff.interval == "mover"
    assert diff.verdict != "worse"


def test_mover_average_matches_the_formula_and_stays_in_range():
    strata = {"a": [1, 1, 1, 0, 1], "b": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]}
    est = stratified_estimate(strata)
    (la, ua), (lb, ub) = wilson_interval(4, 5), wilson_interval(1, 10)
    m = 0.5 * 0.8 + 0.5 * 0.1
    lo = m - math.sqrt((0.5 * (0.8 - la)) ** 2 + (0.5 * (0.1 - lb)) ** 2)
    hi = m + math.sqrt((0.5 * (ua - 0.8)) ** 2 + (0.5 * (ub - 0.1)) ** 2)
    assert (est.lo, est.hi) == pytest.approx((100 * lo, 100 * hi)) and est.method == "mover"
    assert est.n_eff == pytest.approx(1 / (0.25 / 5 + 0.25 / 10))
    flat = stratified_estimate({"a": [0] * 12, "b": [1] * 12})
    assert 0 <= flat.lo < 50 < flat.hi <= 100


def test_fractional_interval_is_t_and_clipped_to_the_score_range():
    scores = [0.0, 0.0, 0.0, 0.0, 0.2, 0.0]  # cwe-like: the old bootstrap printed a negative bound
    est = accuracy_estimate(scores)
    x = np.asarray(scores)
    half = sps.t.ppf(0.975, 5) * x.std(ddof=1) / math.sqrt(6)
    assert est.method == "t" and est.lo == 0.0 and est.hi == pytest.approx(100 * (x.mean() + half))
    assert est.se == pytest.approx(100 * sps.sem(x))


@pytest.mark.parametrize("bad", [math.nan, 1.5, -0.1, math.inf])
def test_invalid_scores_are_one_line_errors(bad):
    with pytest.raises(
        ScoreError, match="stratum t: score .* of sample 1 is not a finite number in \\[0, 1\\]"
    ):
        stratified_estimate({"t": [1.0, bad]})
    with pytest.raises(ScoreError):
        paired_difference({"t": {0: bad}}, {"t": {0: 1.0}})


def test_zero_weights_are_an_error_not_nan():
    with pytest.raises(ValueError, match="weights"):
        stratified_estimate({"a": [1.0], "b": [0.0]}, {"a": 0, "b": 0})


def test_identical_methods_say_so_instead_of_a_zero_width_interval():
    a = {"t": {i: float(i % 2) for i in range(12)}}
    same = paired_difference(a, a)
    assert same.identical and same.verdict == "identical" and same.text() == "identical on 12 samples"


def test_fractional_tasks_at_n_le_2_are_not_degenerate():
    est = accuracy_estimate([0.25, 0.75])
    assert est.lo < 50 < est.hi and 0 <= est.lo and est.hi <= 100
    one = accuracy_estimate([0.5])
    assert one.lo < 50 < one.hi


def test_holm_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    expected = multitest.multipletests(p, method="holm")[1]
    assert holm(p) == pytest.approx(list(expected))
    assert holm([]) == []


def test_families_are_validated():
    assert parse_families(None)[0].kind == "baseline"
    with pytest.raises(ValueError, match="kind"):
        parse_families([{"name": "x", "kind": "everything"}])
    with pytest.raises(ValueError, match="reference"):
        parse_families([{"name": "x", "kind": "levels", "key": "tau"}])


def test_power_aids():
    # at n = 48 pairs, a 0/1 difference with 18-38% discordant pairs needs 17-25 points for 80% power
    assert 100 * detectable_difference(math.sqrt(0.18), 48) == pytest.approx(17.1, abs=0.1)
    assert 100 * detectable_difference(math.sqrt(0.38), 48) == pytest.approx(24.9, abs=0.1)
    assert samples_needed(0.05) == math.ceil((1.959964 + 0.841621) ** 2 * 0.5 / 0.0025)
