"""Intervals and paired differences (asl/results/stats.py) on fixtures with known answers, and how run
summaries and tables use them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from asl.results.accuracy import MixedSampleCounts, gather
from asl.results.paired import mcnemar_exact, paired_difference
from asl.results.schema import SampleRecord, legacy_fired, summarize_run
from asl.results.stats import accuracy_estimate, stratified_estimate, wilson_interval


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table II, method 3 (score
# interval without continuity correction): published to 4 decimals.
@pytest.mark.parametrize(
    "k, n, lo, hi",
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(5, 5)
    assert hi == 1.0 and lo == pytest.approx(0.5655, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(6, 5)


# McNemar's exact test: two-sided binomial(b + c, 1/2) on the discordant pairs.
@pytest.mark.parametrize(
    "b, c, p", [(0, 5, 2 / 32), (2, 8, 2 * 56 / 1024), (3, 3, 1.0), (10, 0, 2 / 1024), (0, 0, 1.0)]
)
def test_mcnemar_exact(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_binary_scores_get_wilson_at_one_decimal():
    est = accuracy_estimate([1, 1, 1, 0, 0])
    assert est.method == "wilson" and est.n == 5
    assert est.text() == "60.0 [23.1, 88.2]"  # Wilson 3/5
    assert accuracy_estimate([]) is None


def test_fractional_scores_get_a_reproducible_t_interval():
    scores = [0.0, 1 / 3, 2 / 3, 1.0, 1 / 3, 1 / 3]
    a, b = accuracy_estimate(scores), accuracy_estimate(list(scores))
    assert a == b and a.method == "t"  # deterministic: the same scores, the same interval, byte for byte
    assert a.value == pytest.approx(100 * sum(scores) / 6) and a.lo < a.value < a.hi
    assert 0 <= a.lo and a.hi <= 100


def test_strata_weighted_equally_and_no_interval_collapses():
    est = stratified_estimate({"a": [1, 0], "b": [1, 1, 1, 1]})
    assert est.value == pytest.approx(75.0) and est.n == 6  # mean of task means, not of samples
    # every sample agrees inside each task, yet 12 samples per task leave real uncertainty: MOVER over the
    # tasks' Wilson intervals
    flat = stratified_estimate({"a": [0] * 12, "b": [1] * 12})
    assert flat.method == "mover" and flat.value == 50.0 and flat.n_eff == pytest.approx(24)
    half = 50 * wilson_interval(0, 12)[1]  # each bound moves by one task's half of its Wilson width
    assert (flat.lo, flat.hi) == pytest.approx((50 - half, 50 + half))
    weighted = stratified_estimate({"a": [0] * 4, "b": [1] * 4}, {"a": 3, "b": 1})
    assert weighted.value == pytest.approx(25.0)


def test_paired_difference_binary_uses_mcnemar():
    a = {"t": {i: 1.0 if i < 10 else 0.0 for i in range(20)}}
    b = {"t": {i: 0.0 for i in range(20)}}
    diff = paired_difference(a, b)
    assert diff.test == "mcnemar" and diff.p_value == pytest.approx(2 / 1024)
    assert diff.delta == pytest.approx(50.0) and diff.lo > 0 and diff.verdict == "better"
    assert paired_difference(b, a).verdict == "worse"


def test_identical_or_unpaired_is_within_noise():
    a = {"t": {i: float(i % 2) for i in range(12)}}
    same = paired_difference(a, a)
    assert same.delta == 0 and same.p_value == 1.0 and same.verdict == "identical"
    assert same.text() == "identical on 12 samples"  # no discordant pair: not a zero-width interval
    # one discordant pair in 5: not a difference anyone should claim
    x = {"t": {0: 1.0, 1: 1.0, 2: 0.0, 3: 0.0, 4: 1.0}}
    y = {"t": {0: 1.0, 1: 0.0, 2: 0.0, 3: 0.0, 4: 1.0}}
    assert paired_difference(x, y).verdict == "within noise"
    assert paired_difference({"t": {0: 1.0}}, {"t": {9: 1.0}}) is None  # no sample in common
    partial = paired_difference({"t": {0: 1.0, 1: 1.0}}, {"t": {1: 0.0, 2: 0.0}})
    assert partial.n_pairs == 1


def test_fractional_differences_use_a_sign_flip_test():
    a = {"t": {i: 0.9 for i in range(12)}}
    b = {"t": {i: 0.1 for i in range(12)}}
    diff = paired_difference(a, b)
    assert diff.test == "sign-flip" and diff.p_value == pytest.approx(2 / 4096) and diff.verdict == "better"
    assert diff.text().startswith("+80.0 [")


def records(fired: list[bool | None], layers: list[int | None], scores: list[float]) -> list[SampleRecord]:
    return [
        SampleRecord(id=str(i), task="passkey", context_length=1024, score=s, selection_layer=layer,
                     selection_fired=f, invocation_id="inv")
        for i, (f, layer, s) in enumerate(zip(fired, layers, scores, strict=True))
    ]  # fmt: skip


def identity() -> dict:
    return {"model": "m", "benchmark": "b", "method": {"name": "asl_2pass"}, "method_label": "ASL_2pass",
            "seed": 0, "run_hash": "h"}  # fmt: skip


def test_summary_counts_a_two_pass_fallback_as_never_fired():
    # ASL_2pass: fired at layer 12, fell back to the last layer (29) twice: the fallback is "never"
    summary = summarize_run(identity(), records([True, False, False], [12, 29, 29], [1, 0, 1]), 3)
    cell = summary.tasks[0]
    assert (cell.selection_fired, cell.selection_n, cell.selection_layer_mean) == (1, 3, 12.0)
    assert cell.accuracy == pytest.approx(200 / 3) and cell.accuracy_lo < cell.accuracy < cell.accuracy_hi
    assert summary.task_mean_lo is not None and summary.invocation_id == "inv"
    # a method without a rule reports nothing to fire
    none = summarize_run(identity(), records([None] * 2, [None] * 2, [1, 1]), 2)
    assert none.tasks[0].selection_n == 0


def test_legacy_records_infer_what_they_can():
    assert legacy_fired(12, {}) is True
    assert legacy_fired(None, {"10": 0.5}) is False  # the rule ran, never fired
    assert legacy_fired(None, {}) is None  # no rule
    rec = SampleRecord.from_json(
        {"id": "0", "task": "t", "selection_layer": None, "rel_variance": {"3": 1.0}}
    )
    assert rec.selection_fired is False


def _row(run_hash: str, n: int) -> SimpleNamespace:
    scores = {("passkey", 1024): {f"passkey|1024|{i}": 1.0 for i in range(n)}}
    run = SimpleNamespace(cell_scores=lambda: scores, sample_identity=lambda: {})
    return SimpleNamespace(
        task="passkey", context_length=1024, run_hash=run_hash, run=run, seed=0, label="ASL"
    )


def test_runs_of_different_n_are_never_merged_into_one_cell():
    assert gather([_row("a", 5), _row("a", 5)], "task").columns["passkey"]
    with pytest.raises(MixedSampleCounts, match="n=5.*n=12"):
        gather([_row("a", 5), _row("b", 12)], "task")
