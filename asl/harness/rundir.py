"""Which directory a run writes (revisions forced by ``run.force``) and the lock that keeps it to one process.

``results_dir/<model>/<benchmark>/<method>-<hash>`` is revision 1; ``run.force=true`` recomputes into
``<method>-<hash>.r2`` (then ``.r3``...) next to it, never deleting the earlier one. A plain run resumes the
latest revision. The lock is an advisory ``flock`` on ``<run dir>/.lock`` holding its owner's pid, host,
start time and command line, so a second process (a duplicated Slurm array task, say) can name the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
from pathlib import Path
from typing import IO, Any

from asl.harness.meta import now_iso
from asl.harness.validation import HarnessError

LOCK_FILE = ".lock"
_REVISION = re.compile(r"\.r(\d+)$")


def revision_of(run_dir: Path) -> int:
    """1 for ``<method>-<hash>``, N for ``<method>-<hash>.rN``."""
    match = _REVISION.search(run_dir.name)
    return int(match.group(1)) if match else 1


def revision_dir(base: Path, revision: int) -> Path:
    """The directory of ``revision`` of the run whose first directory is ``base``."""
    return base if revision <= 1 else base.with_name(f"{base.name}.r{revision}")


def latest_revision(base: Path) -> int:
    """The highest revision that exists (1 when none does)."""
    found = [revision_of(p) for p in base.parent.glob(f"{base.name}.r*") if _REVISION.search(p.name)]
    return max([1, *found])


def choose_run_dir(base: Path, force: bool) -> Path:
    """The latest revision to resume, or with ``force`` a fresh one next to it (base itself if unused)."""
    latest = revision_dir(base, latest_revision(base))
    if not force:
        return latest
    if not latest.exists():
        return latest
    return revision_dir(base, revision_of(latest) + 1)


def holder_info() -> dict[str, Any]:
    """Who holds a lock: pid, host, start time, command line."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso(), "argv": sys.argv}


def describe_holder(text: str) -> str:
    """``pid 123 on host (since 2026-...)`` from a lock file's content (or a fallback)."""
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} (since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def unlock(fh: IO[str] | None) -> None:
    """Release and close a locked file handle (None: nothing held); returns None for the caller's slot."""
    if fh is not None:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


class RunLock:
    """Exclusive advisory lock of one run directory for the lifetime of a run (``with RunLock(...)``)."""

    def __init__(self, run_dir: Path, wait: bool = False) -> None:
        self.path = run_dir / LOCK_FILE
        self.wait = wait
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock; HarnessError naming the holder when another process has it (unless ``wait``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = describe_holder(fh.read())
            if not self.wait:
                fh.close()
                raise HarnessError(
                    f"{self.path.parent} is being written by {holder}; "
                    "set run.wait_for_lock=true to wait for it"
                ) from None
            print(f"waiting for {self.path.parent}: held by {holder}", file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(holder_info()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Drop the lock (the file stays: removing it could let two processes lock different inodes)."""
        self._fh = unlock(self._fh)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
