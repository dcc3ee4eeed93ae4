"""RULER tasks: names and dispatch read from the task registry (eval/registry.py)."""

from __future__ import annotations

from typing import Any

from eval import registry
from eval.schema import Example


def __getattr__(name: str) -> tuple[str, ...]:
    """``TASKS`` (every registered RULER task), ``UPSTREAM_TASKS`` and ``REAL_DATA_TASKS``, read lazily."""
    if name == "TASKS":
        return registry.names("ruler")
    if name == "UPSTREAM_TASKS":
        return registry.names("ruler", upstream=True)
    if name == "REAL_DATA_TASKS":
        return registry.names("ruler", data="required")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_task(task: str) -> str:
    """Return ``task`` or raise BenchmarkError listing the choices."""
    return registry.spec("ruler", task).task


def generate(
    task: str,
    tokenizer: Any,
    context_length: int,
    num_samples: int,
    seed: int,
    profile: str = "chat",
    haystack: str | None = None,
    data_dir: str | None = None,
    revision: Any = None,
) -> list[Example]:
    """Generate ``num_samples`` RULER samples of ``task`` at ``context_length`` tokens (prompt + output).

    ``haystack``: the essay provider (None = the bundled offline fallback); ``data_dir``: folder of
    squad.json / hotpotqa.json / english_words.json, or ``hf``; ``revision``: Hub revision pin(s).
    """
    request = registry.TaskRequest(task, tokenizer, (context_length,), num_samples, seed, profile, haystack,
                                   data_dir, revision)  # fmt: skip
    return registry.generate("ruler", request)
