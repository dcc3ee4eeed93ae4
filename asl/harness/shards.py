"""Sample sharding: one run configuration spread over N processes (``run.shard=I/N``), one run directory.

Shard I of N takes every N-th example of the run's example order starting at I (round robin, so every
task and length is spread over the shards). The run identity and directory do not depend on the shard.
Each shard writes only its own files, so N processes (N Slurm array tasks) can run in one directory:

* ``predictions.shard-I-of-N.jsonl``  its samples, appended as in a plain run;
* ``.lock.shard-I-of-N``              its exclusive lock (plus a shared lock on the run's ``.lock``, so a
                                      plain run and shards of the same directory never run together);
* ``run_meta.shard-I-of-N.json``      its own run_meta (status, invocation, engine, W&B id).

When a shard ends it takes ``.lock.merge`` and merges: ``metrics.json`` from the union of every
predictions file, and ``run_meta.json`` whose status is ``complete`` once that union covers every example
of the run (so whichever shard finishes last completes the run). Readers merge the files the same way
(:mod:`asl.results.shardfiles`); a plain re-run resumes from all of them.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from asl.harness.rundir import LOCK_FILE, RunLock, describe_holder, unlock
from asl.harness.validation import HarnessError
from asl.results.schema import SampleRecord
from asl.results.shardfiles import merge_records, prediction_files, shard_name, shard_predictions
from asl.results.store import atomic_write_json, read_records

MERGE_LOCK = ".lock.merge"
RUN_META = "run_meta.json"
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    @property
    def name(self) -> str:
        """``shard-I-of-N``."""
        return shard_name(self.index, self.count)

    @property
    def predictions(self) -> str:
        """This shard's predictions file name."""
        return shard_predictions(self.index, self.count)

    @property
    def lock(self) -> str:
        """This shard's lock file name."""
        return f"{LOCK_FILE}.{self.name}"

    @property
    def meta(self) -> str:
        """This shard's run_meta file name."""
        return f"run_meta.{self.name}.json"


def parse_shard(value: Any, count: Any = None) -> Shard | None:
    """``run.shard`` (``"I/N"``, or an index I with ``run.shards=N``) as a :class:`Shard`; None when unset.

    Any other form is a one-line HarnessError.
    """
    if value is None or value == "":
        if count is not None:
            raise HarnessError(f"run.shards={count!r} needs run.shard=I (0 <= I < {count})")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise HarnessError(f"run.shard={value} is an index: set run.shards=N too, or write run.shard=I/N")
        index = value
    else:
        match = _SHARD.match(str(value))
        if not match:
            raise HarnessError(f"run.shard must be I/N with 0 <= I < N (e.g. 0/4), got {value!r}")
        index, total = int(match.group(1)), int(match.group(2))
        if count is not None and count != total:
            raise HarnessError(f"run.shard={value} disagrees with run.shards={count}")
        count = total
    if count < 1 or not 0 <= index < count:
        raise HarnessError(f"run.shard must be I/N with 0 <= I < N, got {index}/{count}")
    return None if count == 1 else Shard(index, count)


def shard_of(items: Sequence[T], shard: Shard | None) -> list[T]:
    """The items shard ``shard`` takes (every one when None): round robin over their order."""
    return list(items) if shard is None else list(items[shard.index :: shard.count])


def run_lock(run_dir: Path, shard: Shard | None, wait: bool = False) -> RunLock:
    """The lock a run (or one shard of it) holds while it writes ``run_dir``."""
    return RunLock(run_dir, wait) if shard is None else ShardLock(run_dir, shard, wait)


class ShardLock(RunLock):
    """Exclusive lock of one shard's files, plus a shared lock on the run's ``.lock``: shards run side by
    side, while a plain run of the directory (exclusive ``.lock``) and its shards exclude each other."""

    def __init__(self, run_dir: Path, shard: Shard, wait: bool = False) -> None:
        super().__init__(run_dir, wait)
        self.run_path = self.path
        self.path = run_dir / shard.lock
        self._shared: IO[str] | None = None

    def acquire(self) -> None:
        """Take the shared run lock, then this shard's own (one-line HarnessError naming a holder)."""
        self.run_path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.run_path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            holder = describe_holder(fh.read())
            fh.close()
            raise HarnessError(
                f"{self.run_path.parent} is being written by a plain run ({holder}); "
                "set run.wait_for_lock=true to wait for it"
            ) from None
        self._shared = fh
        try:
            super().acquire()
        except BaseException:
            self._release_shared()
            raise

    def _release_shared(self) -> None:
        self._shared = unlock(self._shared)

    def release(self) -> None:
        """Drop both locks."""
        super().release()
        self._release_shared()


def load_done(run_dir: Path, own: dict[str, SampleRecord], drop_errors: bool) -> dict[str, SampleRecord]:
    """The samples already done in ``run_dir``: ``own`` (this process's file, already loaded and repaired)
    merged with every other predictions file, read without modifying it."""
    others = []
    for path in prediction_files(run_dir):
        records = read_records(path)
        others.append([r for r in records if not (drop_errors and r.error)])
    return merge_records([list(own.values()), *others])


def shard_metas(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``shard-I-of-N`` -> the status, invocation and times its run_meta file records."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(run_dir.glob("run_meta.shard-*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        name = path.name.removeprefix("run_meta.").removesuffix(".json")
        out[name] = {
            k: data.get(k) for k in ("status", "invocation_id", "start_time", "end_time", "reused_from")
        }
    return out


def merge_shards(
    run_dir: Path,
    keys: Sequence[str],
    meta: dict[str, Any],
    write_summary: Callable[[dict[str, SampleRecord]], Any],
) -> str:
    """Under ``.lock.merge``: hand the union of every predictions file to ``write_summary`` (which writes
    metrics.json), then write run_meta.json from this shard's ``meta``, its status ``complete`` when the
    union holds every key of ``keys`` (else ``partial``). Returns that status."""
    with (run_dir / MERGE_LOCK).open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            records = merge_records([read_records(p) for p in prediction_files(run_dir)])
            write_summary(records)
            shards = shard_metas(run_dir)
            status = "complete" if all(k in records for k in keys) else "partial"
            invocations = [*meta.get("invocations", []), *(s["invocation_id"] for s in shards.values())]
            reused = [r for s in shards.values() for r in s.get("reused_from") or []]
            merged = {**meta, "status": status, "shards": shards, "reused_from": reused,
                      "invocations": [i for i in dict.fromkeys(invocations) if i]}  # fmt: skip
            if not reused:
                merged.pop("reused_from")
            atomic_write_json(run_dir / RUN_META, merged)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return status
