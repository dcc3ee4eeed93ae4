"""Checks run before anything is created on disk; each failure is one line (HarnessError)."""

from __future__ import annotations

from typing import Any

from asl.harness.config import context_lengths


class HarnessError(ValueError):
    """Bad run configuration; the message is one line for the user."""


WANDB_MODES = ("offline", "online", "disabled")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_run(cfg: Any) -> None:
    """Static checks of the composed config against the model spec (no model loaded).

    Method hyper-parameters are not restated here: ``build_method`` (the single source of those rules)
    validates them right after, still before anything is written.
    """
    model = cfg.model
    bench = cfg.benchmark
    n = bench.get("num_samples")
    if n is not None and (not _is_int(n) or n < 1):
        raise HarnessError(f"benchmark.num_samples must be >= 1, got {n!r}")
    max_ctx = model.get("max_context")
    for length in context_lengths(bench):
        if length < 1:
            raise HarnessError(f"benchmark.context_length must be positive, got {length}")
        if max_ctx is not None and length > int(max_ctx):
            raise HarnessError(
                f"benchmark.context_length {length} exceeds {model.name}'s maximum context {int(max_ctx)}"
            )
    mode = cfg.logger.wandb.mode
    if mode not in WANDB_MODES:
        raise HarnessError(f"logger.wandb.mode must be one of {', '.join(WANDB_MODES)}, got {mode!r}")
    if cfg.seed is None or not _is_int(cfg.seed):
        raise HarnessError(f"seed must be an integer, got {cfg.seed!r}")
    _validate_shard(cfg.get("run") or {})


def _validate_shard(run: Any) -> None:
    """``run.shard`` is I/N (or an index with ``run.shards=N``), and never combined with ``run.force``."""
    from asl.harness.shards import parse_shard

    if parse_shard(run.get("shard"), run.get("shards")) is not None and run.get("force"):
        raise HarnessError(
            "run.force=true cannot be combined with run.shard (each shard would pick its own fresh revision); "
            "force the run once without run.shard, then shard the resumed run"
        )


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception message."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def _looks_local(path: str) -> bool:
    """A filesystem path rather than a Hub id (absolute, ``./``, ``../`` or ``~``)."""
    return path.startswith(("/", "./", "../", "~")) or path in (".", "..")


def check_paths(cfg: Any, cli_keys: set[str] | None = None) -> None:
    """Path settings checked before any model is loaded, each error naming its key: ``results_dir`` must
    be a writable directory (or creatable), a local ``model.path`` must exist, and ``model.path`` cannot
    be overridden on a model whose weights do not come from it (the embedded GGUF, random tiny models)."""
    import os
    from pathlib import Path

    model = cfg.model
    path = str(model.get("path") or "")
    if "model.path" in (cli_keys or set()) and model.get("source") != "hf":
        raise HarnessError(
            f"model.path cannot apply to {model.name} (source: {model.get('source')}; its weights do not come "
            f"from a path); use a model YAML with source: hf, or the Python API load_model({path!r})"
        )
    if model.get("source") == "hf" and _looks_local(path) and not Path(path).expanduser().is_dir():
        raise HarnessError(f"model.path: no such directory: {path}")
    results = Path(str(cfg.results_dir)).expanduser()
    existing = next((p for p in (results, *results.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise HarnessError(f"results_dir: {existing} is a file, not a directory")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise HarnessError(f"results_dir: {existing} is not writable")
