"""Tokenizer-aware sizing of generated prompts (benchmarks.md §2.3, incremental rule)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from eval.errors import BenchmarkError
from eval.prompts import count_prompt_tokens
from eval.schema import Example

SIZING_RULE = "incremental(step, refined by /10 down to 1; first jump estimated)"


def fit_units(count: Callable[[int], int], budget: int, step: int, start: int = 0) -> int:
    """Largest unit count n >= start with ``count(n) <= budget``, grown in increments of ``step``.

    RULER grows the haystack in fixed increments and steps back once over budget; to land within a
    few tokens of the budget we then repeat with step/10, ... down to 1. The first jump is estimated
    from two measurements so that long targets need few tokenizer calls.
    """
    base = count(start)
    if base > budget:
        raise BenchmarkError(
            f"target length too short: the prompt needs {base} tokens without any haystack, budget is {budget}"
        )
    probe = start + max(step, 1)
    per_unit = max((count(probe) - base) / (probe - start), 1e-6)
    n = start + max(0, int((budget - base) / per_unit) // step * step - step)
    while n > start and count(n) > budget:
        n = max(start, n - step)
    while step >= 1:
        while count(n + step) <= budget:
            n += step
        step //= 10
    return n


def example_counter(tokenizer: Any, profile: str) -> Callable[[Example], int]:
    """Closure measuring an Example's prompt tokens under ``profile``."""
    return lambda ex: count_prompt_tokens(ex, tokenizer, profile)


def sample_rng(*parts: Any) -> random.Random:
    """A deterministic RNG for one sample, seeded from its identifying parts."""
    return random.Random("/".join(str(p) for p in parts))


def depth_for(index: int, total: int) -> float:
    """Evenly spread depths in percent, both ends included (0..100)."""
    return 50.0 if total <= 1 else 100.0 * index / (total - 1)
