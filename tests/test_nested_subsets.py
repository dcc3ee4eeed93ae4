"""Nested subsets: the samples of num_samples=k are the first k of one sequence, spread for every prefix."""

from __future__ import annotations

import bisect
import random
from collections import Counter

import pytest

from eval.nested import BASE_GRID, grid_depth, nested_depths, nested_sample, spread_order
from eval.subsets import draw, dyadic_order, stratified_indices

POPULATIONS = {
    "ties": [0.0] * 10 + [50.0] * 10 + [100.0] * 10,
    "uniform": [random.Random(3).uniform(0, 100) for _ in range(97)],
    "skewed": [random.Random(4).random() ** 3 * 100 for _ in range(64)],
    "small": [10.0, 90.0, 30.0, 70.0, 50.0],
}


def _bins_hit(positions: list[int], n: int, bins: int) -> list[int]:
    bounds = [b * n // bins for b in range(bins + 1)]
    counts = [0] * bins
    for p in positions:
        counts[bisect.bisect_right(bounds, p) - 1] += 1
    return counts


@pytest.mark.parametrize("name", sorted(POPULATIONS))
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_numeric_draws_are_nested_and_every_prefix_is_stratified(name, seed):
    keys = POPULATIONS[name]
    n = len(keys)
    order = sorted(range(n), key=lambda i: (keys[i], i))
    position = {i: p for p, i in enumerate(order)}
    previous: set[int] = set()
    for k in range(1, n):
        picked = stratified_indices(keys, k, random.Random(seed))
        assert len(picked) == k and picked == sorted(picked)
        assert previous < set(picked)  # draw(k) is a subset of draw(k + 1)
        previous = set(picked)
        # the property: with B = 2**floor(log2 k), every one of the B near-equal bins of the
        # depth-sorted records holds one or two of the k picks
        bins = 1 << (k.bit_length() - 1)
        counts = _bins_hit([position[i] for i in picked], n, bins)
        assert min(counts) >= 1 and max(counts) <= 2, (k, counts)


def test_numeric_draws_stay_seeded_and_cover_both_ends():
    depths = POPULATIONS["ties"]
    for seed in range(5):
        picked = [depths[i] for i in stratified_indices(depths, 4, random.Random(seed))]
        assert {0.0, 100.0} <= set(picked)  # never the first k records (all at depth 0)
    draws = {tuple(stratified_indices(depths, 3, random.Random(s))) for s in range(5)}
    assert len(draws) > 1


def test_dyadic_order_is_a_permutation_whatever_k():
    for n in (1, 2, 5, 33):
        full = dyadic_order(n, n, random.Random(2))
        assert sorted(full) == list(range(n))
        assert all(dyadic_order(n, k, random.Random(2)) == full[:k] for k in range(n + 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_categorical_draws_are_a_prefix_and_round_robin(seed):
    kinds = ["largest"] * 7 + ["median"] * 5 + ["smallest"] * 9 + ["sum"] * 2
    previous: set[int] = set()
    for k in range(1, len(kinds)):
        picked = set(stratified_indices(kinds, k, random.Random(seed)))
        assert previous < picked and len(picked) == k
        previous = picked
        counts = Counter(kinds[i] for i in picked)
        full = [c for c, total in Counter(kinds).items() if counts[c] < total]  # categories not exhausted
        assert all(counts[c] >= max(counts.values()) - 1 for c in full)


def test_draw_of_official_records_is_nested():
    records = [{"context": "x" * 100, "input": "", "answer": str(i)} for i in range(40)]
    for i, r in enumerate(records):
        r["context"] = r["context"][: (i * 7) % 97] + r["answer"] + r["context"]
    small = [i for i, _ in draw("passkey", records, 5, seed=3)]
    large = [i for i, _ in draw("passkey", records, 12, seed=3)]
    assert set(small) < set(large)


def test_generated_depths_are_nested_and_keep_the_committed_grid():
    assert [grid_depth(i) for i in range(BASE_GRID)] == [100.0 * i / 11 for i in range(12)]
    assert nested_depths(12) == [(i, 100.0 * i / 11) for i in range(12)]  # the committed 12-sample runs
    assert sorted(spread_order(12)) == list(range(12))
    assert len({grid_depth(i) for i in range(500)}) == 500
    previous: set[int] = set()
    for k in range(1, 200):
        chosen = nested_depths(k)
        assert previous < {i for i, _ in chosen}
        previous = {i for i, _ in chosen}
        if k >= 2:  # both ends, and no gap more than 2.5x the even spread's 100 / (k - 1)
            depths = sorted(d for _, d in chosen)
            gaps = [b - a for a, b in zip(depths, depths[1:], strict=False)]
            assert depths[0] == 0.0 and depths[-1] == 100.0
            assert max(gaps) <= 2.5 * 100.0 / (k - 1), (k, max(gaps))


def test_old_stratified_bins_were_not_nested():
    """What the numeric branch did before: k contiguous bins, one pick each (fails the nesting)."""

    def old(keys, k, rng):
        order = sorted(range(len(keys)), key=lambda i: (keys[i], i))
        bounds = [round(j * len(keys) / k) for j in range(k + 1)]
        return sorted(rng.choice(order[bounds[j] : bounds[j + 1]]) for j in range(k))

    keys = POPULATIONS["uniform"]
    assert not set(old(keys, 5, random.Random(0))) < set(old(keys, 12, random.Random(0)))
    assert set(stratified_indices(keys, 5, random.Random(0))) < set(
        stratified_indices(keys, 12, random.Random(0))
    )


@pytest.mark.parametrize("n", [5, 21, 30, 1000])
def test_question_sample_is_nested_and_unchanged_where_random_sample_was(n):
    full = nested_sample(random.Random(f"q{n}"), n, n)
    assert sorted(full) == list(range(n))
    for k in range(n + 1):
        assert nested_sample(random.Random(f"q{n}"), n, k) == full[:k]
    for k in range(min(n, 6)):  # what RULER qa drew before: random.sample, for every k <= 5
        assert nested_sample(random.Random(f"q{n}"), n, k) == random.Random(f"q{n}").sample(range(n), k)
    if n == 1000:  # random.sample keeps the set draws up to k = 85 at n = 1000, then switches
        assert nested_sample(random.Random("q"), n, 85) == random.Random("q").sample(range(n), 85)
        assert random.Random("q").sample(range(n), 86)[:85] != random.Random("q").sample(range(n), 85)
