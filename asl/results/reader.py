"""The one reader of run directories: tables, ``reproduce_table2`` and the figures all load runs here.

A run directory holds ``metrics.json`` (the :class:`RunSummary`, rewritten after every sample) and
``predictions.jsonl`` (the :class:`SampleRecord` lines). Runs are de-duplicated by their config hash, so a
run reachable from two experiment folders counts once.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from asl.methods.base import Display, PruningMethod
from asl.results.schema import SCHEMA_VERSION, RunSummary, SampleRecord, summarize_run, summary_identity
from asl.results.store import read_records

METRICS = "metrics.json"
PREDICTIONS = "predictions.jsonl"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass
class RunResult:
    """One run directory: its summary, and its records on demand."""

    run_dir: Path
    summary: RunSummary
    _records: list[SampleRecord] | None = field(default=None, repr=False)

    def records(self) -> list[SampleRecord]:
        """The per-sample records (read once)."""
        if self._records is None:
            path = self.run_dir / PREDICTIONS
            self._records = read_records(path) if path.is_file() else []
        return self._records

    @cached_property
    def method(self) -> PruningMethod:
        """The run's method object, rebuilt from its recorded resolved config."""
        from asl.methods.registry import method_from_config

        return method_from_config(self.summary.method)

    @property
    def display(self) -> Display:
        """Label, colour, marker and order of the run's method configuration."""
        return self.method.display()


def find_run_dirs(results_dir: str | Path) -> list[Path]:
    """Directories under ``results_dir`` holding a ``metrics.json``."""
    return sorted(p.parent for p in Path(results_dir).rglob(METRICS))


def load_run(run_dir: str | Path) -> RunResult:
    """Read one run directory; the summary is recomputed from the predictions when they are newer than it
    (killed between the two writes) or when it was written in an older schema."""
    run_dir = Path(run_dir)
    data = json.loads((run_dir / METRICS).read_text())
    if data.get("schema_version") != SCHEMA_VERSION:
        run = RunResult(run_dir, None)  # type: ignore[arg-type] - set just below
        run.summary = summarize_run(
            summary_identity(data), run.records(), int(data["n_expected"]), data.get("skipped_tasks")
        )
        return run
    summary = RunSummary.from_json(data)
    run = RunResult(run_dir, summary)
    records = run.records()
    if len(records) != summary.overall.n:  # predictions are the truth
        run.summary = summarize_run(
            summary_identity(data), records, summary.n_expected, summary.skipped_tasks
        )
    return run


def load_runs(results_dir: str | Path) -> list[RunResult]:
    """Every readable run under ``results_dir``, one per config hash (the one with most samples kept)."""
    best: dict[str, RunResult] = {}
    for run_dir in find_run_dirs(results_dir):
        try:
            run = load_run(run_dir)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _warn(f"{run_dir}: skipped ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
            continue
        key = run.summary.run_hash
        old = best.get(key)
        if old is None or run.summary.overall.n > old.summary.overall.n:
            best[key] = run
    return sorted(best.values(), key=lambda r: str(r.run_dir))
