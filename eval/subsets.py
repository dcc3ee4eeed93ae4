"""Seeded, stratified subsets of official records (``num_samples: k``), never simply the first k."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from typing import Any

from eval import registry
from eval.errors import BenchmarkError

_FUNC = re.compile(r"def (func_\d+)\(x\):\n\s+return (func_\d+)?")
_CALL = re.compile(r"(func_\d+)\(-?\d+\)")
_FIND = re.compile(r"The (.+) of")


def stratified_indices(keys: Sequence[Any], k: int, rng: random.Random) -> list[int]:
    """``k`` indices spread over the strata in ``keys``, in ascending index order; nested: the picks for k
    are the first k of one seeded sequence (so growing ``num_samples`` keeps the samples drawn before).

    Numeric keys (depths) are sorted and halved again and again (:func:`dyadic_order`): for every prefix of
    k picks, each of the B = 2**floor(log2 k) near-equal bins of the sorted records holds one or two.
    Other keys are categories: picks go round-robin over the categories (in seeded order), a random
    member each time. ``k`` must not exceed ``len(keys)``.
    """
    n = len(keys)
    if k >= n:
        return list(range(n))
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in keys):
        order = sorted(range(n), key=lambda i: (keys[i], i))
        return sorted(order[p] for p in dyadic_order(n, k, rng))
    groups: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    members = [rng.sample(g, len(g)) for g in groups.values()]
    rng.shuffle(members)
    picked: list[int] = []
    while len(picked) < k:
        for group in members:
            if group and len(picked) < k:
                picked.append(group.pop())
    return sorted(picked)


def dyadic_order(n: int, k: int, rng: random.Random) -> list[int]:
    """The first ``k`` positions (of 0..n-1) of one seeded sequence: level 0 picks one position at random;
    level m+1 halves each level-m bin (bounds floor(i*n/2**m), so every level's bounds include the
    previous ones) and picks at random in the half without a pick, visiting the bins in bit-reversed
    order so that a partly done level is spread too. After level m every non-empty bin of 2**m holds
    exactly one pick; the draws depend on the level and bin only, never on ``k``."""
    picks: list[int] = [rng.randrange(n)] if k > 0 and n > 0 else []
    level = 0
    while len(picks) < k and (1 << level) < n:
        bins = 1 << level
        taken = set(picks)
        for b in _bit_reversed(bins, level):
            lo, hi = b * n // bins, (b + 1) * n // bins
            mid = (2 * b + 1) * n // (2 * bins)
            for a, z in ((lo, mid), (mid, hi)):
                if a < z and not taken.intersection(range(a, z)) and len(picks) < k:
                    picks.append(a + rng.randrange(z - a))
        level += 1
    return picks


def _bit_reversed(count: int, bits: int) -> list[int]:
    """0..count-1 (count = 2**bits) in bit-reversed order: 0, 4, 2, 6, 1, 5, 3, 7 for 8."""
    return [int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(count)]


def _code_run_depth(context: str, raw_input: str) -> int | None:
    calls = dict(_FUNC.findall(context))
    m = _CALL.search(raw_input)
    if m is None or m.group(1) not in calls:
        return None
    name, depth = m.group(1), 1
    while calls.get(name) and depth <= len(calls):
        name, depth = calls[name], depth + 1
    return depth


def stratum(task: str, raw: dict[str, Any]) -> tuple[str, Any]:
    """(stratification axis, this record's stratum) for an official InfiniteBench record; the axis is the
    task's registered ``strata`` (depth, sub-task, call depth, none, book)."""
    context, raw_input = str(raw.get("context") or ""), str(raw.get("input") or "")
    answer = raw.get("answer", raw.get("answers"))
    first = answer[0] if isinstance(answer, list) and answer else answer
    axis = registry.spec("infinitebench", task).strata or "book"
    if axis == "depth":
        pos = context.find(str(first)) if first is not None else -1
        return axis, round(100.0 * max(pos, 0) / max(len(context), 1), 3)
    if axis == "sub-task":
        m = _FIND.search(raw_input)
        return axis, m.group(1).lower() if m else ""
    if axis == "call depth":
        return axis, _code_run_depth(context, raw_input)
    if axis == "none":
        return axis, 0
    return "book", hashlib.sha1(context.encode("utf-8")).hexdigest()[:12]


def draw(
    task: str, records: list[dict[str, Any]], k: int | None, seed: int
) -> list[tuple[int, dict[str, Any]]]:
    """(record index, subset meta) of the records to use; all of them when ``k`` is None.

    A k larger than the data raises BenchmarkError (one line).
    """
    n = len(records)
    if k is None:
        return [(i, {"method": "all", "population": n}) for i in range(n)]
    if k > n:
        raise BenchmarkError(f"InfiniteBench {task}: num_samples={k} exceeds the {n} records available")
    axis_keys = [stratum(task, r) for r in records]
    keys = [key for _, key in axis_keys]
    axis = axis_keys[0][0] if axis_keys else "none"
    rng = random.Random(f"subset/{task}/{seed}")
    meta = {"method": "stratified", "by": axis, "k": k, "population": n, "seed": seed}
    return [(i, {**meta, "stratum": keys[i]}) for i in stratified_indices(keys, k, rng)]
