"""Tokenizer-aware sizing of generated prompts (benchmarks.md §2.3), bounded in tokenizer calls."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from eval.errors import BenchmarkError, PoolExhaustedError
from eval.prompts import count_prompt_tokens
from eval.schema import Example

SIZING_RULE = "largest unit count with prompt + max_new_tokens <= length (interpolation search, within 0.25%)"
MAX_CALLS = 40  # tokenizer calls per sample; the search needs ~4-8 on near-linear prompts


def fit_units(
    count: Callable[[int], int],
    budget: int,
    step: int = 1,
    start: int = 0,
    *,
    max_units: int | None = None,
    what: str = "generator",
    pool: str | None = None,
    max_calls: int = MAX_CALLS,
) -> int:
    """Largest unit count n in [start, max_units] with ``count(n) <= budget``, to within 0.25% of budget.

    ``count`` must be non-decreasing in n. Two small probes estimate the tokens per unit, one jump brackets
    the budget, then interpolation (with a bisection fallback) closes the bracket. Raises BenchmarkError when
    even ``start`` units are too long or after ``max_calls`` tokenizer calls, and PoolExhaustedError (naming
    ``what``, the length and ``pool``) when all ``max_units`` units still fit below the budget.
    """
    calls = 0

    def measure(n: int) -> int:
        nonlocal calls
        calls += 1
        if calls > max_calls:
            raise BenchmarkError(
                f"{what}: sizing to {budget} tokens did not converge in {max_calls} tokenizer calls"
            )
        return count(n)

    tol = budget // 400
    lo, c_lo = start, measure(start)
    if c_lo > budget:
        raise BenchmarkError(
            f"{what}: target length {budget} too short: the prompt needs {c_lo} tokens without any haystack"
        )
    cap = max_units if max_units is not None else math.inf
    hi: int | None = None
    c_hi = 0
    slope = None
    while hi is None:
        if budget - c_lo <= tol:
            return lo
        if lo >= cap:
            raise PoolExhaustedError(
                f"{what} at {budget} tokens: the {pool or 'unit pool'} is exhausted at {lo} units ({c_lo} tokens)"
            )
        jump = max(step, 1) if slope is None else math.ceil((budget - c_lo) / slope) + 1
        guess = int(min(lo + max(jump, 1), cap))
        c_guess = measure(guess)
        if c_guess > budget:
            hi, c_hi = guess, c_guess
        else:
            slope = max((c_guess - c_lo) / (guess - lo), 1e-9)
            lo, c_lo = guess, c_guess
    stalls = 0
    while hi - lo > 1 and budget - c_lo > tol:
        width = hi - lo
        if stalls >= 2:
            guess, stalls = (lo + hi) // 2, 0
        else:
            guess = lo + int((budget - c_lo) / max(c_hi - c_lo, 1) * width)
            guess = min(max(guess, lo + 1), hi - 1)
        c_guess = measure(guess)
        if c_guess <= budget:
            lo, c_lo = guess, c_guess
        else:
            hi, c_hi = guess, c_guess
        stalls = stalls + 1 if hi - lo > width // 2 else 0
    return lo


def example_counter(tokenizer: Any, profile: str) -> Callable[[Example], int]:
    """Closure measuring an Example's prompt tokens under ``profile``."""
    return lambda ex: count_prompt_tokens(ex, tokenizer, profile)


def sample_rng(*parts: Any) -> random.Random:
    """A deterministic RNG for one sample, seeded from its identifying parts."""
    return random.Random("/".join(str(p) for p in parts))


def depth_for(index: int, total: int) -> float:
    """Evenly spread depths in percent, both ends included (0..100)."""
    return 50.0 if total <= 1 else 100.0 * index / (total - 1)
