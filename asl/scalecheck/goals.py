"""The memory goals of issue 18, judged from the scale check's rows (a pure function of the table).

* 128K tokens on Llama-3.1-8B shapes: every pruned method's prefill peak <= weights + KV + 2 GiB;
* 1M tokens: every method that prunes from the first layer fits one H100 (80 GB) (request: the larger of
  its prefill and decode peaks). The Full-before variants keep every layer's whole cache up to their
  selection layer by definition (at 1M on Llama shapes 4 GiB of KV per layer): they are listed beside the
  goal with that reason, not judged by it;
* 512K tokens: FullKV's request fits one H200 (141 GB).

Only rows present are judged; a goal without rows in the table says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

GiB = 2**30
WORKING_GOAL = 2 * GiB
H100, H200 = 80e9, 141e9
LLAMA = "llama31_8b_ul"
K128, K512, M1 = 131072, 524288, 1048576


@dataclass
class Goal:
    """One goal: each judged request's value beside the limit (bytes)."""

    text: str
    limit: float
    unit: str  # "GiB" or "GB": how the report prints the values
    judged: list[tuple[str, float]] = field(default_factory=list)  # ("model method", bytes)

    @property
    def missed(self) -> list[tuple[str, float]]:
        return [(who, value) for who, value in self.judged if value > self.limit]

    @property
    def worst(self) -> tuple[str, float] | None:
        return max(self.judged, key=lambda item: item[1], default=None)

    def show(self, value: float) -> str:
        return f"{value / GiB:.2f} GiB" if self.unit == "GiB" else f"{value / 1e9:.1f} GB"

    def verdict(self) -> str:
        """One Markdown line: met / missed with the numbers."""
        if not self.judged:
            return f"- {self.text}: not in this table"
        who, value = self.worst
        count = f"{len(self.judged)} request" + ("s" if len(self.judged) > 1 else "")
        if not self.missed:
            return f"- {self.text}: **met** (worst {who}: {self.show(value)}; {count})"
        listed = ", ".join(f"{w} {self.show(v)}" for w, v in self.missed)
        return f"- {self.text}: **missed** by {len(self.missed)} of {count} ({listed})"


def _pruned(method: str) -> bool:
    return not method.startswith("fullkv")


def _full_before(method: str) -> bool:
    return "fullbefore" in method


def memory_goals(rows: Iterable) -> list[Goal]:
    """The three goals judged on ``rows`` (``Row``s of any models, methods and lengths)."""
    requests: dict[tuple[str, str, int], dict] = {}
    for r in rows:
        entry = requests.setdefault((r.model, r.method, r.context_length), {"weights": r.weights_bytes})
        entry["kv"], entry[r.phase] = r.kv_bytes, r.peak_bytes
    goals = [
        Goal(
            "128K, Llama shapes: every pruned method's prefill peak beyond weights + KV <= 2 GiB",
            WORKING_GOAL,
            "GiB",
        ),
        Goal("1M: every method pruning from the first layer: request peak <= 80 GB (one H100)", H100, "GB"),
        Goal("512K: FullKV's request peak <= 141 GB (one H200)", H200, "GB"),
    ]
    tests: list[Callable[[str, str, int], bool]] = [
        lambda model, method, n: model == LLAMA and n == K128 and _pruned(method),
        lambda model, method, n: n == M1 and _pruned(method) and not _full_before(method),
        lambda model, method, n: n == K512 and method == "fullkv",
    ]
    for (model, method, n), entry in requests.items():
        peak = max(entry.get("prefill", 0), entry.get("decode", 0))
        values = [entry.get("prefill", 0) - entry["weights"] - entry["kv"], peak, peak]
        for goal, applies, value in zip(goals, tests, values, strict=True):
            if applies(model, method, n) and (goal is not goals[0] or "prefill" in entry):
                goal.judged.append((f"{model} {method}", value))
    return goals


def full_before_note(rows: Iterable) -> str | None:
    """The 1M requests of the Full-before variants beside the H100 (not a goal: a full cache up to the
    selection layer is what these variants are)."""
    peaks: dict[str, float] = {}
    for r in rows:
        if r.context_length == M1 and _full_before(r.method):
            key = f"{r.model} {r.method}"
            peaks[key] = max(peaks.get(key, 0), r.peak_bytes)
    if not peaks:
        return None
    listed = ", ".join(f"{who} {value / 1e9:.1f} GB" for who, value in peaks.items())
    over = sum(v > H100 for v in peaks.values())
    return (f"- 1M, Full-before variants (whole cache up to the selection layer, by definition; not judged): "
            f"{listed}; {over} of {len(peaks)} above one H100")  # fmt: skip


def goal_failures(rows: Iterable) -> list[str]:
    """One line per goal the rows miss."""
    return [goal.verdict()[2:] for goal in memory_goals(rows) if goal.missed]
