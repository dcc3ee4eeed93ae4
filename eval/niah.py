"""Needle-in-a-Haystack grid (benchmarks.md §3): the ASL paper's variant and the KV papers' variant.

Strings come from eval/templates/niah.yaml. Each Example records ``meta.length`` and ``meta.depth`` (nominal
grid values) for the depth x length heat map; ``meta.depth_actual`` is where the needle really landed.
Haystack per round: with PG19 books (``pg19:...``) round i reads the books after round i-1's until the text
has max(lengths) tokens, as [ref]'s read_context_files; other providers (the bundled offline fallback,
essays) start each round at a different place in the text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from eval.errors import BenchmarkError
from eval.haystack import describe, haystack_words, load_haystack
from eval.registry import TaskRequest, register_task
from eval.schema import Example
from eval.sizing import sample_rng
from eval.templates import fill, load

VARIANTS = ("asl", "kv")
_DATA = load("niah")
BUFFER: int = _DATA["asl"]["buffer"]
CITIES: list[str] = _DATA["asl"]["cities"]
KV_EXPECTED: str = _DATA["kv"]["expected"]
KV_QUESTIONS: dict[str, str] = _DATA["kv"]["questions"]


def default_depths(n: int = 10) -> list[int]:
    """round(linspace(0, 100, n)): 0, 11, 22, ..., 100 for n = 10."""
    return [int(d) for d in np.round(np.linspace(0, 100, n))]


def default_lengths(lo: int, hi: int, n: int = 10) -> list[int]:
    """round(linspace(lo, hi, n)), the [ref] length grid."""
    return [int(x) for x in np.round(np.linspace(lo, hi, n))]


def _encode(tokenizer: Any, text: str, special: bool) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=special))


@lru_cache(maxsize=32)
def _book_rounds(tokenizer: Any, spec: str, max_tokens: int, rounds: int) -> tuple[tuple[int, ...], ...]:
    """Token ids of each round's text: books read in order, concatenated until max_tokens is reached."""
    books, out, at = load_haystack(spec).documents, [], 0
    for _ in range(rounds):
        text, count = "", 0
        while count < max_tokens:
            if at >= len(books):
                raise BenchmarkError(
                    f"NIAH haystack {spec!r}: {len(books)} books hold fewer than {rounds} rounds of {max_tokens} tokens"
                )
            text, count, at = text + books[at], count + len(_encode(tokenizer, books[at], False)), at + 1
        out.append(tuple(_encode(tokenizer, text, False)))
    return tuple(out)


def _rotating_ids(tokenizer: Any, spec: str, n_tokens: int, round_idx: int) -> list[int]:
    """At least ``n_tokens`` tokens of a single text; each round starts at a different word."""
    words = list(haystack_words(spec))
    shift = (round_idx * 3001) % len(words)
    words = words[shift:] + words[:shift]
    take = n_tokens
    while True:
        ids = _encode(tokenizer, " ".join((words * (take // len(words) + 1))[:take]), False)
        if len(ids) >= n_tokens:
            return ids[:n_tokens]
        take *= 2


def haystack_ids(
    tokenizer: Any, spec: str | None, n_tokens: int, round_idx: int, rounds: int, max_len: int
) -> list[int]:
    """The first ``n_tokens`` haystack tokens of round ``round_idx`` (PG19: book chunks; else a rotation)."""
    spec = spec or "pd_default"
    if spec.startswith("pg19:"):
        return list(_book_rounds(tokenizer, spec, max_len, rounds)[round_idx][:n_tokens])
    return _rotating_ids(tokenizer, spec, n_tokens, round_idx)


def insert_needle(
    context_ids: list[int], needle_ids: list[int], depth: float, period_ids: set[int]
) -> tuple[list[int], int]:
    """Insert at floor(len*depth/100), moved back to just after the nearest period token; depth 100 appends."""
    if depth >= 100:
        return context_ids + needle_ids, len(context_ids)
    pos = int(len(context_ids) * depth / 100)
    while pos > 0 and context_ids[pos - 1] not in period_ids:
        pos -= 1
    return context_ids[:pos] + needle_ids + context_ids[pos:], pos


def _period_ids(tokenizer: Any) -> set[int]:
    ids = set(tokenizer.encode(".", add_special_tokens=False))
    return ids or {tok_id for t, tok_id in tokenizer.get_vocab().items() if t.endswith(".")}


def _prompt_fields(template: str, question: str, marker: str) -> dict[str, str]:
    """Template split at {question}: Example template, question (+ its fixed tail), separator, answer prefix."""
    pre, _, post = template.partition("{question}")
    at = post.rfind(marker)
    full = question + post[:at]
    stripped = full.rstrip()
    return {"template": pre + "{question}", "question": stripped, "prefix_sep": full[len(stripped) :],
            "answer_prefix": post[at:]}  # fmt: skip


def make_example(
    tokenizer: Any, length: int, depth: float, round_idx: int, seed: int, variant: str = "asl",
    haystack: str | None = None, kv_question: str = "pyramidkv", profile: str = "chat",
    rounds: int = 1, max_length: int | None = None,
) -> Example:  # fmt: skip
    """One NIAH prompt at (length, depth, round); the haystack is trimmed to length - 200 - needle tokens.

    ``profile=reference`` (ASL variant) encodes the needle and haystack with the tokenizer's special tokens,
    as [ref]'s ``tokenizer.encode`` does (a BOS for Llama-3, nothing for Qwen2.5 / SmolLM2).
    """
    if variant not in VARIANTS:
        raise BenchmarkError(f"unknown NIAH variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
    if variant == "kv" and kv_question not in KV_QUESTIONS:
        raise BenchmarkError(f"unknown kv_question {kv_question!r}; choose one of: {', '.join(KV_QUESTIONS)}")
    rng = sample_rng("niah", variant, length, depth, round_idx, seed)
    strings = _DATA[variant]
    special = variant == "asl" and profile == "reference"
    if variant == "asl":
        city, number = rng.choice(CITIES), str(rng.randint(10**6, 10**7 - 1))
        needle = fill(strings["needle"], city=city, rnd_number=number)
        fields = _prompt_fields(strings["template"], strings["question"].replace("{}", city), "Answer: ")
        answers, metric, wanted = [number], "niah_substring", "PG19"
    else:
        needle = strings["needle"]
        fields = _prompt_fields(strings["template"], KV_QUESTIONS[kv_question], "Answer:")
        answers, wanted = [KV_EXPECTED], "Paul Graham essays"
        metric = "niah_word_overlap" if kv_question == "pyramidkv" else "niah_word_overlap12"
    needle_ids = _encode(tokenizer, needle, special)
    budget = length - BUFFER - len(needle_ids)
    if budget < 1:
        raise BenchmarkError(f"NIAH length {length} is too short for the {BUFFER}-token buffer")
    specials = _encode(tokenizer, "", True) if special else []
    hay = (specials + haystack_ids(tokenizer, haystack, budget, round_idx, rounds, max_length or length))[
        :budget
    ]
    ids, pos = insert_needle(hay, needle_ids, depth, _period_ids(tokenizer))
    meta = {
        "template": fields["template"], "prefix_sep": fields["prefix_sep"], "length": length, "depth": depth,
        "round": round_idx, "seed": seed, "source": "synthetic", **describe(haystack, wanted), "variant": variant,
        "depth_actual": round(100.0 * pos / max(budget, 1), 2), "context_tokens": len(ids),
        "stop_at_newline": variant == "kv", "content": "reference" if profile == "reference" else "official",
    }  # fmt: skip
    return Example(
        id=f"niah-{variant}-{length}-{depth}-{round_idx}-{seed}", benchmark="niah", task=f"niah_{variant}",
        context=tokenizer.decode(ids), question=fields["question"], answer_prefix=fields["answer_prefix"],
        answers=answers, max_new_tokens=strings["max_new_tokens"], metric=metric, meta=meta,
    )  # fmt: skip


def generate_grid(
    tokenizer: Any, lengths: list[int], depths: list[float] | None, rounds: int, seed: int,
    variant: str = "asl", haystack: str | None = None, kv_question: str = "pyramidkv", profile: str = "chat",
) -> list[Example]:  # fmt: skip
    """All (length, depth, round) cells of the grid, lengths outermost."""
    if rounds < 1:
        raise BenchmarkError(f"NIAH rounds (num_samples) must be >= 1, got {rounds}")
    depths = default_depths() if depths is None else list(depths)
    top = max(int(x) for x in lengths)
    return [
        make_example(tokenizer, int(L), d, r, seed, variant, haystack, kv_question, profile, rounds, top)
        for L in lengths for d in depths for r in range(rounds)
    ]  # fmt: skip


def heatmap_table(records: list[dict[str, Any]]) -> dict[tuple[float, int], float]:
    """Mean score per (depth, length) cell from scored records carrying meta.length/meta.depth and score."""
    cells: dict[tuple[float, int], list[float]] = {}
    for rec in records:
        meta = rec.get("meta", {})
        cells.setdefault((meta["depth"], meta["length"]), []).append(float(rec["score"]))
    return {k: sum(v) / len(v) for k, v in sorted(cells.items())}


def _generate_task(request: TaskRequest) -> list[Example]:
    """The grid of ``niah_asl`` / ``niah_kv`` (benchmark keys ``depths`` and ``kv_question`` in options)."""
    depths, question = request.options.get("depths"), request.options.get("kv_question") or "pyramidkv"
    return generate_grid(request.tokenizer, list(request.lengths), None if depths is None else list(depths),
                         request.num_samples, request.seed, request.task.removeprefix("niah_"), request.haystack,
                         question, request.profile)  # fmt: skip


for _variant, _metric in (("asl", "niah_substring"), ("kv", "niah_word_overlap")):
    register_task(f"niah/niah_{_variant}", template=_variant, metric=_metric, upstream=True,
                  max_new_tokens=_DATA[_variant]["max_new_tokens"])(_generate_task)  # fmt: skip
