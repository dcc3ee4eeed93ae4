"""Needle-in-a-Haystack grid (benchmarks.md §3): the ASL paper's variant and the KV papers' variant.

Each Example records ``meta.length`` and ``meta.depth`` (nominal grid values) so that per-cell scores can be
pivoted into a depth x length heat map; ``meta.depth_actual`` is where the needle really landed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eval.errors import BenchmarkError
from eval.haystack import haystack_words, load_haystack
from eval.schema import Example
from eval.sizing import sample_rng

VARIANTS = ("asl", "kv")
BUFFER = 200
CITIES = [
    "Chicago", "Yangon", "Antananarivo", "Colombo", "Almaty", "Sydney", "Mexico City", "Seattle", "Lagos",
    "Amsterdam", "Belgrade", "Cairo", "Baghdad", "Damascus", "Kigali", "Dakar", "Sofia", "Victoria", "Tashkent",
    "Mumbai", "Barcelona", "Helsinki", "Lima", "Nairobi", "Oslo", "Prague", "Quito", "Riga", "Santiago",
    "Taipei", "Ulaanbaatar", "Vienna", "Warsaw", "Zagreb", "Accra", "Bangkok", "Caracas", "Dublin", "Edinburgh",
    "Florence", "Geneva", "Hanoi", "Istanbul", "Jakarta", "Kyoto", "Lisbon", "Manila", "Nagoya", "Osaka", "Perth",
]  # fmt: skip
ASL_TEMPLATE = (
    "Write a high-quality answer for the given question using only the provided search results "
    "(some of which might be irrelevant).\n{context}\n\nQuestion: {question}"
)
ASL_TAIL = " Don't give information outside the document or repeat your findings. Keep your response short and direct."
KV_NEEDLE = (
    "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
)
KV_EXPECTED = "eat a sandwich and sit in dolores park on a sunny day."
KV_QUESTIONS = {
    "pyramidkv": "The best thing to do in San Francisco is: ",
    "classic": "What is the best thing to do in San Francisco?",
}
KV_TEMPLATE = "<|im_start|> This is a very long story book: <book> {context} </book>.\n Based on the content of the book, Question: {question}"


def default_depths(n: int = 10) -> list[int]:
    """round(linspace(0, 100, n)): 0, 11, 22, ..., 100 for n = 10."""
    return [int(d) for d in np.round(np.linspace(0, 100, n))]


def default_lengths(lo: int, hi: int, n: int = 10) -> list[int]:
    """round(linspace(lo, hi, n)), the [ref] length grid."""
    return [int(x) for x in np.round(np.linspace(lo, hi, n))]


def _haystack_ids(tokenizer: Any, haystack: str, n_tokens: int, round_idx: int) -> list[int]:
    """At least ``n_tokens`` haystack tokens; each round starts at a different place in the text."""
    words = list(haystack_words(haystack))
    shift = (round_idx * 3001) % len(words)
    words = words[shift:] + words[:shift]
    take = n_tokens
    while True:
        text = " ".join((words * (take // len(words) + 1))[:take])
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) >= n_tokens:
            return ids[:n_tokens]
        take *= 2


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


def make_example(
    tokenizer: Any, length: int, depth: float, round_idx: int, seed: int, variant: str = "asl",
    haystack: str = "pd_default", kv_question: str = "pyramidkv",
) -> Example:  # fmt: skip
    """One NIAH prompt at (length, depth, round); the haystack is trimmed to length - 200 - needle tokens."""
    if variant not in VARIANTS:
        raise BenchmarkError(f"unknown NIAH variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
    rng = sample_rng("niah", variant, length, depth, round_idx, seed)
    if variant == "asl":
        city, number = rng.choice(CITIES), str(rng.randint(10**6, 10**7 - 1))
        needle = f"\nThe special magic {city} number is: {number}\n"
        question, answers = f"What is the special magic {city} number?" + ASL_TAIL, [number]
        template, sep, prefix, max_new, metric = ASL_TEMPLATE, " ", "Answer: ", 32, "niah_substring"
    else:
        needle, question, answers = KV_NEEDLE, KV_QUESTIONS[kv_question], [KV_EXPECTED]
        template, sep, prefix, max_new = KV_TEMPLATE, "\n", "Answer:", 30
        metric = "niah_word_overlap" if kv_question == "pyramidkv" else "niah_word_overlap12"
    needle_ids = tokenizer.encode(needle, add_special_tokens=False)
    budget = length - BUFFER - len(needle_ids)
    if budget < 1:
        raise BenchmarkError(f"NIAH length {length} is too short for the {BUFFER}-token buffer")
    ids, pos = insert_needle(
        _haystack_ids(tokenizer, haystack, budget, round_idx), needle_ids, depth, _period_ids(tokenizer)
    )
    hay = load_haystack(haystack)
    meta = {
        "template": template, "prefix_sep": sep, "length": length, "depth": depth, "round": round_idx, "seed": seed,
        "source": f"haystack:{haystack}", "haystack_sha256": hay.sha256, "variant": variant,
        "depth_actual": round(100.0 * pos / max(budget, 1), 2), "context_tokens": len(ids), "stop_at_newline": variant == "kv",
    }  # fmt: skip
    return Example(
        id=f"niah-{variant}-{length}-{depth}-{round_idx}-{seed}", benchmark="niah", task=f"niah_{variant}",
        context=tokenizer.decode(ids), question=question, answer_prefix=prefix, answers=answers,
        max_new_tokens=max_new, metric=metric, meta=meta,
    )  # fmt: skip


def generate_grid(
    tokenizer: Any, lengths: list[int], depths: list[float] | None, rounds: int, seed: int,
    variant: str = "asl", haystack: str = "pd_default", kv_question: str = "pyramidkv",
) -> list[Example]:  # fmt: skip
    """All (length, depth, round) cells of the grid, lengths outermost."""
    if rounds < 1:
        raise BenchmarkError(f"NIAH rounds (num_samples) must be >= 1, got {rounds}")
    depths = default_depths() if depths is None else list(depths)
    return [
        make_example(tokenizer, int(L), d, r, seed, variant, haystack, kv_question)
        for L in lengths for d in depths for r in range(rounds)
    ]  # fmt: skip


def heatmap_table(records: list[dict[str, Any]]) -> dict[tuple[float, int], float]:
    """Mean score per (depth, length) cell from scored records carrying meta.length/meta.depth and score."""
    cells: dict[tuple[float, int], list[float]] = {}
    for rec in records:
        meta = rec.get("meta", {})
        cells.setdefault((meta["depth"], meta["length"]), []).append(float(rec["score"]))
    return {k: sum(v) / len(v) for k, v in sorted(cells.items())}
