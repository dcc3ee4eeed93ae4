"""Accuracy cells with intervals, and paired differences between methods, from the runs' records.

A table cell of a label (one method configuration) at a column (a task, or a context length) is the mean
over its *strata*, the (task, context length) cells of the runs' summaries that fall in that column, each
stratum weighted equally; the label's Avg. is the mean over columns of those cell means (the paper's task
mean). Intervals and paired differences come from :mod:`asl.results.stats` with the same weights, so the
printed value is exactly the statistic the interval is about.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from asl.results.paired import Difference, paired_difference
from asl.results.stats import Estimate, stratified_estimate

Stratum = tuple[str, Any]  # (task, context length)
Scores = dict[Stratum, dict[str, float]]  # stratum -> sample key -> score


class MixedSampleCounts(ValueError):
    """Runs with different sample counts would be merged into one table cell."""


@dataclass
class LabelScores:
    """One label's scores by column, and the runs they come from."""

    columns: dict[Any, Scores]
    identity: dict[str, tuple]  # sample key -> (answers, prompt tokens): what pairing checks
    seeds: set[int]

    def strata(self) -> Scores:
        """Every stratum of every column."""
        return {s: v for col in self.columns.values() for s, v in col.items()}

    def weights(self, columns: Iterable[Any]) -> dict[Stratum, float]:
        """Stratum weights of the Avg. over ``columns``: each column equal, each stratum equal in it."""
        present = [c for c in columns if c in self.columns]
        return {s: 1.0 / (len(present) * len(self.columns[c])) for c in present for s in self.columns[c]}


def gather(rows: Iterable[Any], column: str) -> LabelScores:
    """The scores of ``rows`` (summary rows of one label, with their ``run``) grouped by ``column``
    ("task" or "context_length"); MixedSampleCounts when two runs' cells of different n share a column."""
    columns: dict[Any, Scores] = {}
    identity: dict[str, tuple] = {}
    seeds: set[int] = set()
    owner: dict[Stratum, tuple[str, int]] = {}
    for row in rows:
        stratum = (row.task, row.context_length)
        scores = row.run.cell_scores().get(stratum, {})
        seen = owner.setdefault(stratum, (row.run_hash, len(scores)))
        if seen[0] != row.run_hash and seen[1] != len(scores):
            raise MixedSampleCounts(
                f"{row.label}: runs {seen[0]} (n={seen[1]}) and {row.run_hash} (n={len(scores)}) would share "
                f"the cell {row.task} at {row.context_length}; keep one (different n cannot be merged)"
            )
        if scores:
            columns.setdefault(getattr(row, column), {})[stratum] = scores
        identity.update(row.run.sample_identity())
        seeds.add(row.seed)
    return LabelScores(columns, identity, seeds)


def cell_estimate(scores: Scores) -> Estimate | None:
    """Equal-weight mean over the strata of one cell, with its interval."""
    strata = {s: list(v.values()) for s, v in scores.items() if v}
    return stratified_estimate(strata) if strata else None


def average_estimate(label: LabelScores, columns: Iterable[Any]) -> Estimate | None:
    """The label's Avg. over ``columns`` (each column weighted equally), with its interval."""
    weights = label.weights(columns)
    strata = {s: list(v.values()) for s, v in label.strata().items() if s in weights}
    return stratified_estimate(strata, weights) if strata else None


def sample_counts(label: LabelScores) -> list[int]:
    """Scored samples per stratum."""
    return [len(v) for v in label.strata().values()]


def n_text(counts: list[int]) -> str:
    """``12`` when every stratum has 12 samples, ``5–12`` otherwise."""
    if not counts:
        return "–"
    lo, hi = min(counts), max(counts)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def pairable(a: LabelScores, b: LabelScores) -> dict[str, bool]:
    """Sample key -> whether both labels scored the same sample there (same seed, answers, prompt size)."""
    if a.seeds != b.seeds or len(a.seeds) != 1:
        return {}
    return {k: v == b.identity.get(k) for k, v in a.identity.items()}


def difference(a: LabelScores, b: LabelScores, columns: Iterable[Any]) -> Difference | None:
    """Paired difference of the Avg. (A − B) over the samples both scored, each column weighted equally."""
    same = pairable(a, b)
    weights = a.weights(columns)

    def keep(scores: Mapping[Hashable, Mapping[str, float]]) -> dict:
        return {s: {k: v for k, v in m.items() if same.get(k)} for s, m in scores.items() if s in weights}

    return paired_difference(keep(a.strata()), keep(b.strata()), weights)


def nearest_rival(label: str, averages: Mapping[str, Estimate | None], exclude: Iterable[str]) -> str | None:
    """The other label whose Avg. is closest to ``label``'s (ties: the first in order); None if none."""
    mine = averages.get(label)
    if mine is None:
        return None
    skip = {label, *exclude}
    others = [(abs(e.value - mine.value), i, other) for i, (other, e) in enumerate(averages.items())
              if other not in skip and e is not None]  # fmt: skip
    return min(others)[2] if others else None


def rows_estimate(rows: list[Any]) -> Estimate | None:
    """The task mean (Avg.) of summary rows of one configuration with its interval; None without records."""
    if not rows or any(getattr(r, "run", None) is None for r in rows):
        return None
    scores = gather(rows, "task")
    return average_estimate(scores, scores.columns)
