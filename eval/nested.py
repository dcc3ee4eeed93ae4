"""Nested sample sets: the samples of ``num_samples=k`` are the first k of one fixed sequence, spread for
every prefix, so growing a run (5 -> 12 samples) keeps the samples it has (``asl/harness/reuse.py``).

The generated InfiniteBench retrieval tasks place sample i's needle at a depth that depends on i only
(:func:`grid_depth`): the first :data:`BASE_GRID` samples sit on the evenly spread grid 100*i/11 (the grid
of the committed 12-sample runs, so those samples are unchanged), later ones on the midpoints of the
grid so far, generation after generation. :func:`nested_depths` takes the samples of a count in an order
that spreads every prefix over depth: the grid's two ends, then the midpoints of the widest gaps.
"""

from __future__ import annotations

import random
from collections import deque

#: the first samples' grid: 100*i/(BASE_GRID-1) for i < BASE_GRID (the committed 12-sample runs' depths)
BASE_GRID = 12


def spread_order(n: int) -> list[int]:
    """0..n-1 with the two ends first, then breadth-first midpoints of the gaps between the points so far:
    every prefix of length k >= 2 leaves no gap wider than about twice the narrowest."""
    if n <= 2:
        return list(range(n))
    out, gaps = [0, n - 1], deque([(0, n - 1)])
    while gaps:
        a, b = gaps.popleft()
        if b - a < 2:
            continue
        mid = (a + b) // 2
        out.append(mid)
        gaps.extend(((a, mid), (mid, b)))
    return out


def _generation(index: int) -> tuple[int, int, int]:
    """(generation, first index of it, its size) of sample ``index``: generation 0 is the base grid,
    generation g >= 1 the (BASE_GRID-1)*2**(g-1) midpoints of the grid before it."""
    if index < BASE_GRID:
        return 0, 0, BASE_GRID
    gen, start, size = 1, BASE_GRID, BASE_GRID - 1
    while index >= start + size:
        gen, start, size = gen + 1, start + size, size * 2
    return gen, start, size


def grid_depth(index: int) -> float:
    """Depth in percent (0..100) of sample ``index``; it depends on nothing else."""
    gen, start, size = _generation(index)
    if gen == 0:
        return 100.0 * index / (BASE_GRID - 1)  # equal to the former depth_for(index, 12)
    return 100.0 * (index - start + 0.5) / size


def nested_depths(k: int) -> list[tuple[int, float]]:
    """(sample index, depth) of the ``k`` samples of a run of ``k``, by ascending index: the first k of
    the base grid in :func:`spread_order`, then of each midpoint generation in turn."""
    chosen: list[int] = []
    start, size = 0, BASE_GRID
    while len(chosen) < k:
        chosen += [start + j for j in spread_order(size)][: k - len(chosen)]
        start, size = start + size, (BASE_GRID - 1 if start == 0 else size * 2)
    return [(i, grid_depth(i)) for i in sorted(chosen)]


def nested_sample(rng: random.Random, n: int, k: int) -> list[int]:
    """``rng.sample(range(n), k)`` made nested in ``k``: the draw the standard library makes for small k
    (a pool for n <= 21, else rejection from a set), kept for every k. ``random.sample`` switches to the
    pool once k is large next to n (n <= 21 + 4**ceil(log4(3k))), so its draws for k and a larger k then
    differ; this one is the same as ``random.sample`` wherever it had not switched."""
    if not 0 <= k <= n:
        raise ValueError(f"sample of {k} from {n}")
    if n <= 21:  # what random.sample does for k <= 5 here: draws from a shrinking pool
        pool, out = list(range(n)), []
        for i in range(k):
            j = rng.randrange(n - i)
            out.append(pool[j])
            pool[j] = pool[n - i - 1]
        return out
    selected: set[int] = set()
    out = []
    for _ in range(k):
        j = rng.randrange(n)
        while j in selected:
            j = rng.randrange(n)
        selected.add(j)
        out.append(j)
    return out
