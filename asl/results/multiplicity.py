"""Multiplicity control over a declared family of comparisons (Holm 1979), and the declared families.

An experiment config names its comparison families under ``tables.families`` (``configs/experiment/*``),
e.g. ``{name: vs Full KV, kind: baseline, baseline: fullkv}`` or ``{name: ASL vs each baseline, kind:
one_vs_rest, method: asl}``; each family's p-values are Holm-adjusted together, and a difference is called
only on its adjusted p. A comparison that the data chose (the nearest rival) belongs to no family and is
labelled exploratory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: what a table compares when its experiment declares nothing: every method against the baseline
DEFAULT_FAMILIES: tuple[dict[str, Any], ...] = ({"name": "each method vs baseline", "kind": "baseline"},)
KINDS = ("baseline", "one_vs_rest", "pairs", "levels")


@dataclass(frozen=True)
class Family:
    """A declared family: ``baseline`` (every label vs the baseline), ``one_vs_rest`` (``method``'s labels
    vs every other non-baseline label), ``pairs`` (listed (a, b) method names) or ``levels`` (within each
    method, every value of ``key`` vs its ``reference`` value). ``same``: only pair labels that agree on
    these hyper-parameters (e.g. ``kv_budget``: comparisons at a fixed budget)."""

    name: str
    kind: str
    method: str | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    same: tuple[str, ...] = ()
    key: str | None = None
    reference: Any = None


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (monotone, capped at 1)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def parse_families(node: Any) -> list[Family]:
    """Families from a config list (dicts with name, kind and method or pairs); ValueError when malformed."""
    entries = list(node) if node else list(DEFAULT_FAMILIES)
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("kind") not in KINDS or not entry.get("name"):
            raise ValueError(f"tables.families: each entry needs a name and a kind in {KINDS}, got {entry!r}")
        if entry["kind"] == "one_vs_rest" and not entry.get("method"):
            raise ValueError(f"tables.families: {entry['name']!r} (one_vs_rest) needs a method")
        pairs = tuple((str(a), str(b)) for a, b in entry.get("pairs") or ())
        if entry["kind"] == "pairs" and not pairs:
            raise ValueError(f"tables.families: {entry['name']!r} (pairs) needs pairs: [[a, b], ...]")
        if entry["kind"] == "levels" and (not entry.get("key") or entry.get("reference") is None):
            raise ValueError(f"tables.families: {entry['name']!r} (levels) needs a key and a reference value")
        same = tuple(str(k) for k in entry.get("same") or ())
        out.append(Family(str(entry["name"]), str(entry["kind"]), entry.get("method"), pairs, same,
                          entry.get("key"), entry.get("reference")))  # fmt: skip
    return out
