"""What ``dry_run=true`` adds to a run's plan: whether its data is there, and the samples it would need to
detect a given difference (``plan.detect_points``)."""

from __future__ import annotations

import math
from typing import Any

from asl.results.stats import detectable_difference, samples_needed


def data_report(bench: dict[str, Any]) -> str:
    """``data: ok`` or ``data: MISSING (<the one-line error a run would stop with>)``."""
    from eval.errors import BenchmarkError
    from eval.suite import check_data

    try:
        check_data(bench)
    except BenchmarkError as err:
        return f"data: MISSING ({str(err).splitlines()[0]})"
    return "data: ok (files are read when the run starts)"


def power_report(points: float | None, per_task: int, tasks: int) -> str:
    """The pairs per task needed to detect ``points`` (percentage points) between two methods with 80%
    power, and what ``per_task`` samples per task can detect (worst case: half the pairs discordant)."""
    n = per_task * max(1, tasks)
    can = 100 * detectable_difference(math.sqrt(0.5), n) if n else math.inf
    head = f"power: {n} pairs detect about {can:.0f} points (80% power, two-sided 5%, half of the pairs discordant)"
    if not points:
        return head
    need = math.ceil(samples_needed(points / 100) / max(1, tasks))
    return f"{head}; {points:g} points need {need} samples per task ({need * max(1, tasks)} pairs)"
