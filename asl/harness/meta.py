"""``run_meta.json``: where and with what a run was produced."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import os
import platform
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from asl.allocator import allocator_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
INVOCATION_ENV = "ASL_INVOCATION_ID"
LIBRARIES = ("torch", "transformers", "flash-attn", "hydra-core", "omegaconf", "wandb", "numpy", "asl-bench")


def now_iso() -> str:
    """Current UTC time, ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def invocation_id() -> str:
    """The id of this command invocation, shared with its child processes (a multirun's jobs, the run.py
    that reproduce_table2 starts) through ``$ASL_INVOCATION_ID``: timings compare only within one."""
    if not os.environ.get(INVOCATION_ENV):
        os.environ[INVOCATION_ENV] = f"{_dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    return os.environ[INVOCATION_ENV]


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit hash and whether the tracked code has uncommitted changes (None outside git); changes under
    ``results/`` (what the runs themselves write) do not count."""

    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that affect results."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def device_info(device: Any = None) -> dict[str, Any]:
    """The device the model runs on; GPU name, CUDA and driver where available."""
    info: dict[str, Any] = {
        "device": str(device) if device is not None else None,
        "host": socket.gethostname(),
    }
    info["platform"] = platform.platform()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            info["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 else None
        except (OSError, subprocess.SubprocessError, IndexError):
            info["driver"] = None
    return info


def run_meta(seed: int, device: Any = None, argv: list[str] | None = None) -> dict[str, Any]:
    """Metadata written at the start of a run (``end_time`` is added when it finishes)."""
    return {
        "git": git_state(),
        "libraries": library_versions(),
        "device": device_info(device),
        "allocator": allocator_settings(),
        "seed": seed,
        "argv": list(sys.argv if argv is None else argv),
        "start_time": now_iso(),
        "end_time": None,
        "status": "running",
    }
