"""Choosing a swept hyper-parameter (τ) on one seed's samples and testing the choice on another's.

Picking the best τ on the samples it is then tested on overstates it (the winner's curse). The sweep runs
every value on two seeds (different samples): the value is chosen on ``choose_seed`` by the Avg., and only
the chosen value is compared with the reference value on ``test_seed``, a comparison fixed before those
samples are looked at (one per method, Holm-adjusted together).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asl.results.accuracy import difference
from asl.results.multiplicity import holm
from asl.results.paired import Difference
from asl.results.tables import Pivot
from asl.results.variants import value_key


@dataclass(frozen=True)
class Choice:
    """The value of ``key`` chosen for one method on ``choose_seed``, and its test on ``test_seed``."""

    method: str
    key: str
    value: Any
    chosen_avg: float
    reference: Any
    test: Difference | None  # chosen − reference on the test seed's samples (Holm over the methods)
    chosen_label: str | None
    reference_label: str | None


def _find(p: Pivot, method: str, key: str, value: Any, seed: int, like: Mapping[str, Any]) -> str | None:
    """The label of ``method`` at ``key = value`` and ``seed``, equal to ``like`` in every other key."""
    for label in p.labels:
        params = p.rows[label][0].params
        others = all(params.get(k) == v for k, v in like.items() if k not in (key, "seed"))
        if (
            p.rows[label][0].method == method
            and params.get(key) == value
            and params.get("seed") == seed
            and others
        ):
            return label
    return None


def choose(p: Pivot, key: str, choose_seed: int) -> dict[str, tuple[Any, float, dict[str, Any]]]:
    """Method -> (value of ``key`` with the best Avg. on ``choose_seed``, that Avg., its parameters); ties
    go to the smaller value."""
    best: dict[str, tuple[Any, float, dict[str, Any]]] = {}
    for label in p.labels:
        row, avg = p.rows[label][0], p.averages.get(label)
        value = row.params.get(key)
        if value is None or avg is None or row.params.get("seed") != choose_seed:
            continue
        old = best.get(row.method)
        if old is None or (avg.value, -value_key(value)[1]) > (old[1], -value_key(old[0])[1]):
            best[row.method] = (value, avg.value, row.params)
    return best


def select_and_test(p: Pivot, key: str, reference: Any, choose_seed: int, test_seed: int) -> list[Choice]:
    """For every method swept over ``key``: the value chosen on ``choose_seed`` and its difference to
    ``reference`` on ``test_seed`` (Holm-adjusted over the methods)."""
    found = []
    for method, (value, avg, params) in sorted(choose(p, key, choose_seed).items()):
        chosen = _find(p, method, key, value, test_seed, params)
        ref = _find(p, method, key, reference, test_seed, params)
        diff = None
        if chosen and ref and chosen != ref:
            diff = difference(p.scores[chosen], p.scores[ref], p.columns)
        found.append(Choice(method, key, value, avg, reference, diff, chosen, ref))
    tested = [c for c in found if c.test is not None]
    adjusted = holm([c.test.p_value for c in tested])
    fixed = {id(c): dataclasses.replace(c, test=dataclasses.replace(c.test, p_adjusted=q))
             for c, q in zip(tested, adjusted, strict=True)}  # fmt: skip
    return [fixed.get(id(c), c) for c in found]


def selection_markdown(choices: list[Choice], choose_seed: int, test_seed: int) -> str:
    """One row per method: the chosen value (and its Avg. on the choosing seed) and the held-out test."""
    if not choices:
        return ""
    head = [
        "Method",
        f"chosen on seed {choose_seed}",
        "Avg. there",
        f"vs reference on seed {test_seed}",
        "verdict",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in choices:
        test = "– (same as the reference, or not run on the test seed)" if c.test is None else c.test.text()
        verdict = "–" if c.test is None else c.test.verdict
        lines.append(
            f"| {c.method} | {c.key}={c.value} | {c.chosen_avg:.1f} | {test} (ref {c.key}={c.reference}) | {verdict} |"
        )
    return "\n".join(lines)
