"""RULER task registry and dispatcher."""

from __future__ import annotations

from typing import Any

from eval.errors import BenchmarkError
from eval.ruler import aggregation, niah, qa, vt
from eval.schema import Example

TASKS: tuple[str, ...] = (*niah.NIAH_TASKS, "vt", "cwe", "fwe", "qa_1", "qa_2")
REAL_DATA_TASKS: tuple[str, ...] = ("qa_1", "qa_2")


def check_task(task: str) -> str:
    """Return ``task`` or raise BenchmarkError listing the choices."""
    if task not in TASKS:
        raise BenchmarkError(f"unknown RULER task {task!r}; choose one of: {', '.join(TASKS)}")
    return task


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
    check_task(task)
    if task in niah.NIAH_TASKS:
        return niah.generate(task, tokenizer, context_length, num_samples, seed, profile, haystack)
    if task in REAL_DATA_TASKS:
        return qa.generate(task, tokenizer, context_length, num_samples, seed, profile, data_dir, revision)
    if task == "vt":
        return vt.generate(tokenizer, context_length, num_samples, seed, profile)
    return aggregation.generate(task, tokenizer, context_length, num_samples, seed, profile, data_dir)
