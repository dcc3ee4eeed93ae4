"""Crash-safe files of a run directory: atomic whole-file writes and the append-only predictions log."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from asl.results.schema import SampleRecord


def atomic_write_text(path: str | Path, text: str) -> bool:
    """Write ``text`` to ``path`` via a temporary file in the same folder, fsync and rename; a file that
    already holds ``text`` is left untouched (so regenerating unchanged results modifies nothing).
    Returns whether the file was written."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def atomic_write_json(path: str | Path, data: Any) -> bool:
    """Atomically write ``data`` as indented JSON (untouched when unchanged)."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


class PredictionStore:
    """``predictions.jsonl``: one JSON line per finished sample, appended and fsynced one at a time.

    A SIGKILL can only tear the line being written; :meth:`load` truncates such a tail (and drops any
    other unparsable line) so the next run resumes cleanly.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self, drop_errors: bool = False) -> dict[str, SampleRecord]:
        """Finished samples by :func:`sample_key`, repairing the file first if needed."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        good: list[bytes] = []
        records: dict[str, SampleRecord] = {}
        dirty = not raw.endswith(b"\n") and bool(raw)
        for lineno, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                rec = SampleRecord.from_json(data)
            except (ValueError, TypeError):
                print(f"warning: {self.path}: dropping unreadable line {lineno}", file=sys.stderr)
                dirty = True
                continue
            if drop_errors and rec.error:
                dirty = True
                continue
            key = rec.key
            if key in records:  # keep the first copy; duplicates cannot come from this writer
                dirty = True
                continue
            records[key] = rec
            good.append(line)
        if dirty:
            atomic_write_text(self.path, "".join(g.decode("utf-8") + "\n" for g in good))
        return records

    def append(self, record: SampleRecord) -> None:
        """Append one record as a single write, then flush and fsync."""
        line = json.dumps(record.to_json(), sort_keys=True, default=_json_default) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def extend(self, records: Iterable[SampleRecord]) -> None:
        """Append several records (each fsynced)."""
        for rec in records:
            self.append(rec)


def read_records(path: str | Path) -> list[SampleRecord]:
    """Read a predictions file without modifying it (torn or bad lines are skipped)."""
    out: list[SampleRecord] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict):
                out.append(SampleRecord.from_json(data))
        except (ValueError, TypeError):
            continue
    return out


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
