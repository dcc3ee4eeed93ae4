"""Shared RULER helpers: tokens_to_generate, example construction and sizing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eval.schema import Example
from eval.sizing import SIZING_RULE, example_counter, fit_units

TOKENS_TO_GENERATE = {"niah": 128, "vt": 30, "cwe": 120, "fwe": 50, "qa": 32}
NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."


def ruler_example(
    task: str, parts: dict[str, Any], max_new_tokens: int, metric: str, meta: dict[str, Any]
) -> Example:
    """Example from generator parts: template, context, question, answer_prefix, answers (+ meta)."""
    return Example(
        id="",
        benchmark="ruler",
        task=task,
        context=parts["context"],
        question=parts["question"],
        answer_prefix=parts["answer_prefix"],
        answers=list(parts["answers"]),
        max_new_tokens=max_new_tokens,
        metric=metric,
        meta={"template": parts["template"], "prefix_sep": "", **meta, **parts.get("meta", {})},
    )


def sized_examples(
    task: str,
    builders: list[Callable[[int], dict[str, Any]]],
    tokenizer: Any,
    context_length: int,
    seed: int,
    profile: str,
    step: int,
    max_new_tokens: int,
    metric: str,
    extra_meta: dict[str, Any] | None = None,
    start: int = 1,
) -> list[Example]:
    """Size each builder's unit count so that prompt + max_new_tokens <= context_length (§2.3)."""
    count = example_counter(tokenizer, profile)
    out = []
    for i, build in enumerate(builders):
        meta = {
            "length": context_length,
            "seed": seed,
            "source": "synthetic",
            "sizing": SIZING_RULE,
            **(extra_meta or {}),
        }

        def make(n: int, build=build, meta=meta) -> Example:
            return ruler_example(task, build(n), max_new_tokens, metric, meta)

        n = fit_units(lambda k, make=make: count(make(k)) + max_new_tokens, context_length, step, start=start)
        ex = make(n)
        ex.id = f"{task}-{context_length}-{seed}-{i}"
        ex.meta.update({"units": n, "prompt_tokens": count(ex), "profile": profile})
        out.append(ex)
    return out
