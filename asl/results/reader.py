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
from asl.results.schema import (
    SCHEMA_VERSION,
    RunSummary,
    SampleRecord,
    check_records,
    summarize_run,
    summary_identity,
)
from asl.results.shardfiles import read_run_records
from asl.results.stats import ScoreError

METRICS = "metrics.json"
PREDICTIONS = "predictions.jsonl"
META = "run_meta.json"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass
class RunResult:
    """One run directory: its summary, and its records on demand."""

    run_dir: Path
    summary: RunSummary
    _records: list[SampleRecord] | None = field(default=None, repr=False)
    # other directories of the same configuration that de-duplication dropped: their scores are not
    # counted again, but their timings still pair with the baseline timed in their own invocation
    copies: list[RunResult] = field(default_factory=list, repr=False)

    def records(self) -> list[SampleRecord]:
        """The per-sample records (read once): ``predictions.jsonl`` merged with any shard files."""
        if self._records is None:
            self._records = read_run_records(self.run_dir)
        return self._records

    def cell_scores(self) -> dict[tuple[str, int | None], dict[str, float]]:
        """(task, context length) -> sample key -> score, over the samples scored without an error."""
        out: dict[tuple[str, int | None], dict[str, float]] = {}
        check_records(self.records(), f"run {self.run_dir}")
        for rec in self.records():
            if rec.ok:
                out.setdefault((rec.task, rec.context_length), {})[rec.key] = float(rec.score)
        return out

    def sample_identity(self) -> dict[str, tuple]:
        """Sample key -> (answers, prompt tokens): two runs pair a sample only where these agree."""
        return {r.key: (json.dumps(r.answers, default=str), r.prompt_tokens) for r in self.records()}

    @cached_property
    def meta(self) -> dict:
        """``run_meta.json`` (empty when missing or unreadable)."""
        try:
            return json.loads((self.run_dir / META).read_text())
        except (OSError, ValueError):
            return {}

    @property
    def dirty(self) -> bool:
        """The run was produced from a working tree with uncommitted code changes."""
        return bool((self.meta.get("git") or {}).get("dirty"))

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


def _preference(run: RunResult) -> tuple:
    """Among directories of one configuration: complete first, then the latest revision, then the most
    samples (a forced recompute supersedes the directory it was forced next to once it is complete)."""
    s = run.summary
    return (s.complete, s.revision, s.overall.n)


def load_runs(results_dir: str | Path) -> list[RunResult]:
    """Every readable run under ``results_dir``, one per config hash (see :func:`_preference`); the
    directories it supersedes are kept on it as ``copies`` (for their timings only)."""
    best: dict[str, RunResult] = {}
    for run_dir in find_run_dirs(results_dir):
        try:
            run = load_run(run_dir)
        except ScoreError as exc:  # an invalid score is an error, never a silently skipped run
            raise ScoreError(f"{run_dir}: {exc}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _warn(f"{run_dir}: skipped ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
            continue
        key = run.summary.run_hash
        old = best.get(key)
        if old is None:
            best[key] = run
            continue
        keep, drop = (run, old) if _preference(run) > _preference(old) else (old, run)
        keep.copies += [drop, *drop.copies]
        drop.copies = []
        best[key] = keep
    return sorted(best.values(), key=lambda r: str(r.run_dir))
