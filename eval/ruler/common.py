"""Shared RULER helpers: upstream strings (eval/templates/ruler.yaml), example construction and sizing."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from eval.errors import PoolExhaustedError
from eval.schema import Example
from eval.sizing import SIZING_RULE, example_counter, fit_units
from eval.templates import fill, load

_DATA = load("ruler")
NOISE: str = _DATA["noise"]
NEEDLE: str = _DATA["needle"]
DOCUMENT: str = _DATA["document"]
_TASK_KEYS = {"niah": "niah", "vt": "variable_tracking", "cwe": "common_words_extraction",
              "fwe": "freq_words_extraction", "qa": "qa"}  # fmt: skip
TOKENS_TO_GENERATE = {k: _DATA["tasks"]["official"][v]["tokens_to_generate"] for k, v in _TASK_KEYS.items()}


def family_of(profile: str) -> str:
    """Content family of a prompt profile: ``reference`` builds [ref]'s strings, the others the official ones."""
    return "reference" if profile == "reference" else "official"


def task_strings(kind: str, profile: str) -> dict[str, Any]:
    """template / answer_prefix (/ tokens_to_generate) of RULER task ``kind`` (niah, vt, cwe, fwe, qa, or a
    template key); a harness task's single ``local`` entry serves every profile."""
    key = _TASK_KEYS.get(kind, kind)
    local = _DATA.get("local") or {}
    return local[key] if key in local else _DATA["tasks"][family_of(profile)][key]


def template_keys() -> frozenset[str]:
    """Every template key of eval/templates/ruler.yaml: the upstream tasks' and the ``local`` ones."""
    return frozenset(_DATA["tasks"]["official"]) | frozenset(_DATA.get("local") or {})


def singularize(text: str) -> str:
    """niah.py's rewrite when q*v == 1 (applied by [ref] to the whole wrapped template)."""
    for old, new in (("Some", "A"), ("are all", "is"), ("are", "is"), ("answers", "answer")):
        text = text.replace(old, new)
    return text


def task_parts(template: str, answer_prefix: str, **fields: Any) -> dict[str, str]:
    """A RULER task template filled except for ``{context}``, as Example template / question / prefix."""
    head, _, tail = fill(template, **fields).partition("{context}")
    question = tail.lstrip()
    lead = tail[: len(tail) - len(question)]
    return {"template": head + "{context}" + lead + "{question}", "question": question,
            "answer_prefix": fill(answer_prefix, **fields)}  # fmt: skip


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
    max_units: int | None = None,
    pool: str | None = None,
    cap_pool: bool = False,
) -> list[Example]:
    """Size each builder's unit count so that prompt + max_new_tokens <= context_length (§2.3).

    A finite pool (``max_units``, described by ``pool``) that cannot reach the length raises
    PoolExhaustedError naming the task, the length and the pool; with ``cap_pool`` (what [ref] does for cwe)
    the whole pool is used instead, the prompt stays shorter, and ``meta.pool_capped`` says so.
    """
    count = example_counter(tokenizer, profile)
    out = []
    for i, build in enumerate(builders):
        meta = {"length": context_length, "seed": seed, "source": "synthetic", "sizing": SIZING_RULE,
                "content": family_of(profile), **(extra_meta or {})}  # fmt: skip

        def make(n: int, build=build, meta=meta) -> Example:
            return ruler_example(task, build(n), max_new_tokens, metric, meta)

        try:
            n = fit_units(
                lambda k, make=make: count(make(k)) + max_new_tokens, context_length, step, start=start,
                max_units=max_units, what=f"RULER {task}", pool=pool,
            )  # fmt: skip
        except PoolExhaustedError as err:
            if not cap_pool or max_units is None:
                raise
            warnings.warn(f"{err}; using the whole pool as the reference code does", stacklevel=2)
            n, meta["pool_capped"] = max_units, pool
        ex = make(n)
        ex.id = f"{task}-{context_length}-{seed}-{i}"
        ex.meta.update({"units": n, "prompt_tokens": count(ex), "profile": profile})
        out.append(ex)
    return out
