"""Errors and skip records of the benchmark package."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class BenchmarkError(ValueError):
    """Bad benchmark input (unknown task, missing data, malformed file); one-line message."""


class MissingDataError(BenchmarkError):
    """A task's data (files, hub dataset) is absent: the run stops unless ``benchmark.allow_missing``."""


class PoolExhaustedError(BenchmarkError):
    """A generator's finite pool (words, documents, pairs) cannot reach the target length."""


@dataclass(frozen=True)
class SkippedTask:
    """A task that could not be built because its data is absent (``benchmark.allow_missing=true``)."""

    benchmark: str
    task: str
    reason: str
    context_length: int | None = None

    def to_dict(self) -> dict:
        """Plain-dict form for JSON logs."""
        return asdict(self)

    def __str__(self) -> str:
        at = f" @ {self.context_length}" if self.context_length else ""
        return f"skipped {self.benchmark}/{self.task}{at}: {self.reason}"
