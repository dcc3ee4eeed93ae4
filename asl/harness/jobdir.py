"""A multirun job's folder (``results_dir/multirun/<time>/<num>/``): its overrides, a log, a link to the run.

Hydra writes nothing there itself (``hydra.output_subdir: null`` keeps single runs from littering the
working directory), so the job keeps ``overrides.yaml``, ``job.log`` (its stdout and stderr, progress-bar
redraws left out) and ``run``, a relative symlink to the run directory (``run_dir.txt`` where links fail).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import yaml

LOG = "job.log"
OVERRIDES = "overrides.yaml"
LINK = "run"


class _Tee:
    """A text stream copied into a log file (writes carrying a carriage return, i.e. redraws, are not)."""

    def __init__(self, stream: IO[str], log: IO[str]) -> None:
        self.stream, self.log = stream, log
        self._redrawing = False

    def write(self, text: str) -> int:
        if "\r" in text:
            self._redrawing = True
        elif not (self._redrawing and text == "\n"):  # the newline closing a redrawn line
            self.log.write(text)
            self.log.flush()
            self._redrawing = False
        else:
            self._redrawing = False
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


class JobFolder:
    """The output folder of one multirun job."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def current(cls) -> JobFolder | None:
        """The running Hydra job's folder in a multirun; None for a single run (or outside Hydra)."""
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return None
        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return None
        return cls(Path(hc.runtime.output_dir))

    def write_overrides(self, overrides: list[str]) -> Path:
        """``overrides.yaml``: the job's task overrides, as Hydra's own ``.hydra/overrides.yaml`` would be."""
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / OVERRIDES
        path.write_text(yaml.safe_dump(list(overrides), default_flow_style=False))
        return path

    @contextmanager
    def tee(self) -> Iterator[None]:
        """Copy stdout and stderr into ``job.log`` for the duration."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / LOG).open("a", encoding="utf-8") as log:
            out, err = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
            try:
                yield
            finally:
                sys.stdout, sys.stderr = out, err

    def link(self, run_dir: Path, name: str | None = None) -> Path:
        """``run`` (or ``name``: a shared job links each of its runs) -> the run directory (relative), or
        ``run_dir.txt`` holding its path."""
        link = self.path / (name or LINK)
        target = os.path.relpath(run_dir.resolve(), self.path.resolve())
        try:
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(target, target_is_directory=True)
            return link
        except OSError:
            text = self.path / "run_dir.txt"
            with text.open("a", encoding="utf-8") as fh:
                fh.write(f"{run_dir.resolve()}\n")
            return text
