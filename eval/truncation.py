"""Token-level middle truncation (benchmarks.md §1.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def middle_truncate(ids: Sequence[int], limit: int | None) -> tuple[list[int], dict[str, Any]]:
    """Keep the first floor(L/2) and last floor(L/2) tokens when ``len(ids) > L``.

    Returns the (possibly) truncated ids and a record with ``limit``, ``tokens_before``,
    ``tokens_after`` and ``truncated``.
    """
    ids = list(ids)
    before = len(ids)
    if limit is not None and limit < 2:
        raise ValueError(f"truncation limit must be >= 2, got {limit}")
    if limit is not None and before > limit:
        half = limit // 2
        ids = ids[:half] + ids[before - half :]
    return ids, {
        "limit": limit,
        "tokens_before": before,
        "tokens_after": len(ids),
        "truncated": len(ids) < before,
    }
