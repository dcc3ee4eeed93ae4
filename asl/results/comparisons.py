"""The comparisons a table reports: each declared family's pairs, Holm-adjusted together, then the
data-chosen (nearest rival) comparisons, labelled exploratory.

Families come from the experiment config (``tables.families``, :mod:`asl.results.multiplicity`). Labels are
matched to families by their recorded method name (``fullkv``, ``asl``) and hyper-parameters, never by the
data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from asl.results.accuracy import difference, nearest_rival
from asl.results.multiplicity import Family, holm
from asl.results.paired import Difference
from asl.results.stats import p_text
from asl.results.tables import DASH, Pivot

EXPLORATORY = "exploratory (nearest rival, chosen by the data)"


@dataclass(frozen=True)
class Comparison:
    """One reported difference: label A − label B, its family (or exploratory) and the result."""

    a: str
    b: str
    family: str
    diff: Difference


def _method(p: Pivot, label: str) -> str:
    return p.rows[label][0].method


def _params(p: Pivot, label: str) -> dict[str, Any]:
    return p.rows[label][0].params


def _same(p: Pivot, a: str, b: str, keys: list[str]) -> bool:
    return all(_params(p, a).get(k) == _params(p, b).get(k) for k in keys)


def family_pairs(p: Pivot, family: Family, base: str | None) -> list[tuple[str, str]]:
    """(A, B) label pairs of ``family`` among the pivot's labels, in table order."""
    labels = [label for label in p.labels if label in p.scores]
    same = list(family.same)
    if family.kind == "baseline":
        return [(a, base) for a in labels if base is not None and a != base]
    if family.kind == "one_vs_rest":
        mine = [a for a in labels if _method(p, a) == family.method]
        return [(a, b) for a in mine for b in labels if b not in mine and b != base and _same(p, a, b, same)]
    if family.kind == "levels":
        key, ref = str(family.key), family.reference
        rest = [k for k in {k for a in labels for k in _params(p, a)} if k != key]
        return [(a, b) for a in labels for b in labels
                if _method(p, a) == _method(p, b) and _params(p, b).get(key) == ref
                and _params(p, a).get(key) not in (None, ref) and _same(p, a, b, rest)]  # fmt: skip
    return [(a, b) for ma, mb in family.pairs for a in labels for b in labels
            if _method(p, a) == ma and _method(p, b) == mb and a != b and _same(p, a, b, same)]  # fmt: skip


def comparisons(p: Pivot, base: str | None, families: list[Family]) -> list[Comparison]:
    """Every declared family's differences with Holm-adjusted p, then one exploratory nearest-rival
    difference per label (no multiplicity control)."""
    out: list[Comparison] = []
    for family in families:
        found = []
        for a, b in family_pairs(p, family, base):
            diff = difference(p.scores[a], p.scores[b], p.columns)
            if diff is not None:
                found.append((a, b, diff))
        adjusted = holm([d.p_value for _, _, d in found])
        out += [Comparison(a, b, family.name, dataclasses.replace(d, p_adjusted=q))
                for (a, b, d), q in zip(found, adjusted, strict=True)]  # fmt: skip
    for label in p.labels:
        if label == base or label not in p.scores:
            continue
        rival = nearest_rival(label, p.averages, [base] if base else [])
        diff = difference(p.scores[label], p.scores[rival], p.columns) if rival else None
        if diff is not None:
            out.append(Comparison(label, rival, EXPLORATORY, dataclasses.replace(diff, exploratory=True)))
    return out


def _num(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def comparison_cells(c: Comparison) -> list[str]:
    """The Markdown cells of one comparison row."""
    d = c.diff
    if d.identical:
        interval, p, q = f"identical on {d.n_pairs} samples", DASH, DASH
    else:
        interval = f"{d.delta:+.1f} [{d.lo:+.1f}, {d.hi:+.1f}]"
        p = d.text().split("p=", 1)[1].split(" (adj")[0]
        q = DASH if d.p_adjusted is None else p_text(d.p_adjusted)
    disc = DASH if d.discordant is None else f"{d.discordant[0]}/{d.discordant[1]}"
    verdict = d.verdict + (" (exploratory)" if d.exploratory and d.significant else "")
    test = d.test if d.identical else f"{d.test}, {d.interval}"
    return [f"{c.a} − {c.b}", c.family, interval, p, q, test, str(d.n_pairs), disc, _num(d.se), _num(d.mdd),
            verdict]  # fmt: skip


HEAD = ["Comparison", "Family", "Δ [95% CI]", "p", "p (Holm)", "test, interval", "pairs", "discordant",
        "SE", "MDD80", "verdict"]  # fmt: skip


def comparisons_markdown(found: list[Comparison]) -> str:
    """One row per comparison (declared families first, then the exploratory ones)."""
    if not found:
        return ""
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(comparison_cells(c)) + " |" for c in found]
    return "\n".join(lines)
