"""Offline math_find, math_calc and code_run records following the official construction script.

OpenBMB/InfiniteBench @ 88b3daa data/construct_synthetic_dataset.py: math_find lists of ints in [0, 99] with
the per-sub-task min/max shifts, math_calc expressions whose running value stays in [0, 99] (answer = the
values after each operation, the first term excluded), code_run call chains over 2-10 layers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from eval.errors import BenchmarkError
from eval.templates import fill, load

_SYN = load("infinitebench")["synthetic"]
FIND_KINDS: list[str] = _SYN["math_find"]["kinds"]
CODE_LAYERS: list[int] = _SYN["code_run"]["layers"]


class LazyInts:
    """A reproducible, endless sequence of ``draw(rng)`` values, materialised on demand."""

    def __init__(self, rng: random.Random, draw: Callable[[random.Random], int]) -> None:
        self._rng, self._draw, self.values = rng, draw, []

    def prefix(self, n: int) -> list[int]:
        """The first ``n`` values."""
        while len(self.values) < n:
            self.values.append(self._draw(self._rng))
        return self.values[:n]


def _distinct_rank(nums: list[int], rank: int, largest: bool) -> int:
    ordered = sorted(set(nums), reverse=largest)
    if len(ordered) <= rank:
        raise BenchmarkError(
            f"math_find: a list of {len(nums)} numbers has fewer than {rank + 1} distinct values"
        )
    return ordered[rank]


def _median(nums: list[int]) -> int | float:
    ordered, half = sorted(nums), len(nums) // 2
    return ordered[half] if len(nums) % 2 else (ordered[half] + ordered[half - 1]) / 2


_RANKS = {
    "largest number": (0, True),
    "second largest number": (1, True),
    "third largest number": (2, True),
    "smallest number": (0, False),
    "second smallest number": (1, False),
    "third smallest number": (2, False),
}


def math_find_answer(kind: str, nums: list[int]) -> int | float:
    """The official answer: the k-th largest/smallest *distinct* value, or the median (x.5 when even)."""
    if kind == "median number":
        return _median(nums)
    rank, largest = _RANKS[kind]
    return _distinct_rank(nums, rank, largest)


def builder_math_find(index: int, rng: random.Random) -> Callable[[int], dict[str, Any]]:
    """math_find sub-task ``index % 7``; the value range is shifted per sample as in the official script."""
    kind = FIND_KINDS[index % len(FIND_KINDS)]
    low_shift = "smallest" in kind or (kind == "median number" and rng.random() > 0.5)
    lo, hi = (rng.randint(0, int(99 * 0.2)), 99) if low_shift else (0, rng.randint(int(99 * 0.8), 99))
    numbers = LazyInts(random.Random(rng.random()), lambda r: r.randint(lo, hi))
    question = fill(_SYN["math_find"]["input"], kind=kind)

    def build(n: int) -> dict[str, Any]:
        nums = numbers.prefix(max(n, 10))
        return {"context": str(nums), "input": question, "answer": [math_find_answer(kind, nums)]}

    return build


def builder_math_calc(rng: random.Random) -> Callable[[int], dict[str, Any]]:
    """An expression of n terms in [0, 99]; each term is redrawn so that the running value stays in [0, 99]."""
    terms: list[str] = []
    values: list[int] = []
    draw = random.Random(rng.random())

    def extend(n: int) -> None:
        if not terms:
            values.append(draw.randint(0, 99))
            terms.append(str(values[0]))
        while len(terms) < n:
            value, term = values[-1], draw.randint(0, 99)
            if draw.random() > 0.5:
                term = draw.randint(0, 99 - value) if value + term > 99 else term
                terms.append(f"+ {term}")
                values.append(value + term)
            else:
                term = draw.randint(0, value) if value - term < 0 else term
                terms.append(f"- {term}")
                values.append(value - term)

    def build(n: int) -> dict[str, Any]:
        n = max(n, 2)
        extend(n)
        return {"context": " ".join(terms[:n]), "input": _SYN["math_calc"]["input"], "answer": values[1:n]}

    return build


def _functions(
    rng: random.Random, layers: int, total: int
) -> tuple[list[list[int]], dict[int, tuple[int | None, int]]]:
    """``total`` functions with unique ids in [1, 2 * total], split into ``layers`` near-equal layers."""
    ids: set[int] = set()
    while len(ids) < total:
        ids.add(rng.randint(1, 2 * total))
    order = list(ids)
    rng.shuffle(order)
    sizes = [total // layers + (i < total % layers) for i in range(layers)]
    starts = [sum(sizes[:i]) for i in range(layers)]
    groups = [order[s : s + n] for s, n in zip(starts, sizes, strict=True)]
    calls = {}
    for i, group in enumerate(groups):
        for fid in group:
            callee = rng.choice(groups[i + 1]) if i < layers - 1 else None
            calls[fid] = (callee, rng.randint(-12, 17))
    return groups, calls


def _source(fid: int, callee: int | None, add: int) -> str:
    target = f"func_{callee}(x)" if callee is not None else "x"
    op = "" if add == 0 else (f" + {add}" if add > 0 else f" - {-add}")
    return f"def func_{fid}(x):\n    return {target}{op}\n"


def builder_code_run(index: int, rng: random.Random) -> Callable[[int], dict[str, Any]]:
    """n functions in ``layers`` (2..10, by sample index) layers; the query starts in the first layer."""
    layers = CODE_LAYERS[index % len(CODE_LAYERS)]
    seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        r = random.Random(f"{seed}-{n}")
        groups, calls = _functions(r, layers, max(n, layers))
        content = "".join(_source(fid, *calls[fid]) + "\n" for fid in sorted(calls))
        start, x = r.choice(groups[0]), r.randint(-10, 10)
        value, fid = x, start
        adds = []
        while fid is not None:
            callee, add = calls[fid]
            adds.append(add)
            fid = callee
        value += sum(adds)
        question = fill(_SYN["code_run"]["input"], fid=start, x=x)
        return {"context": _SYN["code_run"]["header"] + content, "input": question, "answer": [value]}

    return build
