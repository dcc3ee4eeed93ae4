"""The predictions files of one run directory: ``predictions.jsonl`` and the shard files beside it.

A run spread over N processes (``run.shard=I/N``) writes ``predictions.shard-I-of-N.jsonl`` per shard in
the same run directory; a plain run writes ``predictions.jsonl``. Every reader takes the union through
:func:`read_run_records`, so a sharded run reads exactly as the same run done in one process.
"""

from __future__ import annotations

import re
from pathlib import Path

from asl.results.schema import SampleRecord
from asl.results.store import read_records

PREDICTIONS = "predictions.jsonl"
_SHARD_FILE = re.compile(r"^predictions\.shard-(\d+)-of-(\d+)\.jsonl$")


def shard_name(index: int, count: int) -> str:
    """``shard-I-of-N``: the stem every file of one shard carries."""
    return f"shard-{index}-of-{count}"


def shard_predictions(index: int, count: int) -> str:
    """``predictions.shard-I-of-N.jsonl``."""
    return f"predictions.{shard_name(index, count)}.jsonl"


def prediction_files(run_dir: str | Path) -> list[Path]:
    """``predictions.jsonl`` (when present) first, then the shard files by (N, I)."""
    run_dir = Path(run_dir)
    shards = []
    for path in run_dir.glob("predictions.shard-*.jsonl"):
        match = _SHARD_FILE.match(path.name)
        if match and path.is_file():
            shards.append(((int(match.group(2)), int(match.group(1))), path))
    plain = run_dir / PREDICTIONS
    return ([plain] if plain.is_file() else []) + [p for _, p in sorted(shards)]


def merge_records(groups: list[list[SampleRecord]]) -> dict[str, SampleRecord]:
    """One record per sample key over several files' records: the first error-free one, else the first
    one (a sample retried with ``run.retry_errors`` in another file replaces its failed copy)."""
    out: dict[str, SampleRecord] = {}
    for records in groups:
        for rec in records:
            old = out.get(rec.key)
            if old is None or (not old.ok and rec.ok):
                out[rec.key] = rec
    return out


def read_run_records(run_dir: str | Path) -> list[SampleRecord]:
    """The union of a run directory's predictions files (read only; torn lines skipped), in file order."""
    return list(merge_records([read_records(p) for p in prediction_files(run_dir)]).values())
