"""RULER cwe and fwe generators (benchmarks.md §2.2).

cwe (common_words_extraction.py): one one-shot example, inline before the task in the official RULER
(@ c3f5e3b); a separate, fully wrapped chat turn in TANIGUCHIREI/ASL @ 9e1ec0c (``meta.turns``). Words come
from the wonderwords lists (8166); past that pool the official script samples RULER's english_words.json
(read from ``benchmark.data_dir`` when present, else a one-line error), while [ref] caps at 8166 words.
fwe (freq_words_extraction.py): Zipf(2) counts over random 6-letter words, the top one replaced by "...";
vocabulary size (L - 50) // 50 officially, L // 50 in [ref].
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import zeta

from eval.datasources import read_json
from eval.registry import TaskRequest, per_length, register_task
from eval.ruler.common import TOKENS_TO_GENERATE, family_of, sized_examples, task_parts, task_strings
from eval.ruler.words import cwe_words
from eval.schema import Example
from eval.sizing import sample_rng
from eval.templates import fill

ENGLISH_WORDS = "english_words.json"


def numbered(words: list[str]) -> str:
    """RULER's "1. w1 2. w2 ..." list."""
    return " ".join(f"{i + 1}. {w}" for i, w in enumerate(words))


@lru_cache(maxsize=2)
def english_words(data_dir: str | None) -> tuple[str, ...]:
    """RULER's larger cwe word list (english_words.json values) from ``data_dir``; empty when absent."""
    path = Path(data_dir).expanduser() / ENGLISH_WORDS if data_dir and data_dir != "hf" else None
    if path is None or not path.is_file():
        return ()
    data = read_json(path)
    return tuple(str(w) for w in (data.values() if isinstance(data, dict) else data))


def _cwe_list(rng: random.Random, picked: list[str], common: int, uncommon: int) -> tuple[str, list[str]]:
    words = picked[:10] * common + picked[10:] * uncommon
    rng.shuffle(words)
    return numbered(words), picked[:10]


def _cwe_builder(
    rng: random.Random, context_length: int, family: str, extra: tuple[str, ...]
) -> Callable[[int], dict[str, Any]]:
    vocab = list(cwe_words())
    rng.shuffle(vocab)
    small = context_length < 4096
    shot_ctx, shot_ans = _cwe_list(
        rng, rng.sample(vocab, 20 if small else 40), *((3, 1) if small else (10, 3))
    )
    strings = task_strings("cwe", family)
    parts = task_parts(strings["template"], strings["answer_prefix"])
    shot_task = fill(strings["template"], context=shot_ctx)
    freq = (6, 1) if small else (30, 3)
    perm, big, sample_seed = rng.sample(vocab, len(vocab)), list(extra), rng.random()
    random.Random(sample_seed).shuffle(big)
    if family == "official":
        template = shot_task + parts["answer_prefix"] + " " + numbered(shot_ans) + "\n" + parts["template"]
        turns = []
    else:
        template = parts["template"]
        turns = [{"user": shot_task, "assistant": parts["answer_prefix"] + numbered(shot_ans)}]
    meta = {"icl": {"context": shot_ctx, "answers": shot_ans}, "turns": turns}

    def build(n: int) -> dict[str, Any]:
        words = perm[:n] if n <= len(perm) else big[:n]
        context, answers = _cwe_list(random.Random(sample_seed), words, *freq)
        return {**parts, "template": template, "context": context, "answers": answers, "meta": meta}

    return build


def _fwe_builder(
    rng: random.Random, context_length: int, family: str, alpha: float = 2.0
) -> Callable[[int], dict[str, Any]]:
    size = (
        (context_length - TOKENS_TO_GENERATE["fwe"]) // 50 if family == "official" else context_length // 50
    )
    size = max(size, 10)
    vocab: set[str] = set()
    while len(vocab) < size:
        vocab.add("".join(rng.choices(string.ascii_lowercase, k=6)))
    ordered = sorted(vocab)
    rng.shuffle(ordered)
    ordered[0] = "..."  # the top-ranked word is noise
    shuffle_seed = rng.random()
    ranks = np.arange(1, len(ordered) + 1)
    strings = task_strings("fwe", family)
    parts = task_parts(strings["template"], strings["answer_prefix"])

    def build(n: int) -> dict[str, Any]:
        counts = (n * ranks**-alpha / zeta(alpha)).astype(int)
        words = [w for w, c in zip(ordered, counts, strict=True) for _ in range(c)]
        random.Random(shuffle_seed).shuffle(words)
        return {**parts, "context": " ".join(words), "answers": ordered[1:4], "meta": {"vocab_size": size}}

    return build


def generate(
    task: str,
    tokenizer: Any,
    context_length: int,
    num_samples: int,
    seed: int,
    profile: str = "chat",
    data_dir: str | None = None,
) -> list[Example]:
    """cwe / fwe samples sized to ``context_length`` with the model's tokenizer."""
    family = family_of(profile)
    rngs = [sample_rng("ruler", task, context_length, seed, i) for i in range(num_samples)]
    if task == "fwe":
        builders = [_fwe_builder(r, context_length, family) for r in rngs]
        return sized_examples(task, builders, tokenizer, context_length, seed, profile, 100,
                              TOKENS_TO_GENERATE["fwe"], "string_match_all", {"haystack": "coded words"},
                              start=50)  # fmt: skip
    extra = english_words(data_dir) if family == "official" else ()
    builders = [_cwe_builder(r, context_length, family, extra) for r in rngs]
    size = max(len(cwe_words()), len(extra))
    pool = f"wonderwords nouns+adjectives+verbs ({len(cwe_words())} words)"
    if family == "official" and not extra:
        pool += f"; put RULER's {ENGLISH_WORDS} in benchmark.data_dir for more"
    elif extra:
        pool = f"{ENGLISH_WORDS} ({len(extra)} words)"
    return sized_examples(task, builders, tokenizer, context_length, seed, profile, 50,
                          TOKENS_TO_GENERATE["cwe"], "string_match_all", {"haystack": "word list"}, start=11,
                          max_units=size, pool=pool, cap_pool=family == "reference")  # fmt: skip


@per_length
def _generate_task(request: TaskRequest, length: int) -> list[Example]:
    return generate(request.task, request.tokenizer, length, request.num_samples, request.seed, request.profile,
                    request.data_dir)  # fmt: skip


register_task("ruler/cwe", template="common_words_extraction", metric="string_match_all",
              max_new_tokens=TOKENS_TO_GENERATE["cwe"], upstream=True)(_generate_task)  # fmt: skip
register_task("ruler/fwe", template="freq_words_extraction", metric="string_match_all",
              max_new_tokens=TOKENS_TO_GENERATE["fwe"], upstream=True)(_generate_task)  # fmt: skip
