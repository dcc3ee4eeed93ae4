"""RULER niah_* generators (benchmarks.md §2.2): needles in noise, essay or needle-format haystacks."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from eval.haystack import SPLITTER, load_haystack, split_sentences, words_of
from eval.ruler.common import NOISE, TOKENS_TO_GENERATE, sized_examples
from eval.ruler.words import random_value
from eval.schema import Example
from eval.sizing import sample_rng

# task -> (haystack, key type, value type, k, v, q)
NIAH_TASKS: dict[str, tuple[str, str, str, int, int, int]] = {
    "niah_single_1": ("noise", "words", "numbers", 1, 1, 1),
    "niah_single_2": ("essay", "words", "numbers", 1, 1, 1),
    "niah_single_3": ("essay", "words", "uuids", 1, 1, 1),
    "niah_multikey_1": ("essay", "words", "numbers", 4, 1, 1),
    "niah_multikey_2": ("needle", "words", "numbers", 1, 1, 1),
    "niah_multikey_3": ("needle", "uuids", "uuids", 1, 1, 1),
    "niah_multivalue": ("essay", "words", "numbers", 1, 4, 1),
    "niah_multiquery": ("essay", "words", "numbers", 1, 1, 4),
}
NEEDLE = "One of the special magic {type_v} for {key} is: {value}."
DEPTHS = [int(d) for d in np.round(np.linspace(0, 100, num=40, endpoint=True))]


def _texts(type_v: str, singular: bool, query: str) -> dict[str, str]:
    if singular:
        t = type_v[:-1]
        head = f"A special magic {t} is hidden within the following text. Make sure to memorize it. I will quiz you about the {t} afterwards.\n"
        question = f"What is the special magic {t} for {query} mentioned in the provided text?"
        prefix = f" The special magic {t} for {query} mentioned in the provided text is"
    else:
        head = f"Some special magic {type_v} are hidden within the following text. Make sure to memorize it. I will quiz you about the {type_v} afterwards.\n"
        question = f"What are all the special magic {type_v} for {query} mentioned in the provided text?"
        prefix = f" The special magic {type_v} for {query} mentioned in the provided text are"
    return {"template": head + "{context}\n{question}", "question": question, "answer_prefix": prefix}


def _builder(task: str, rng: random.Random, haystack: str) -> Callable[[int], dict[str, Any]]:
    kind, type_k, type_v, k, v, q = NIAH_TASKS[task]
    k = max(k, q)
    keys, values, needles = [], [], []
    for _ in range(k):
        keys.append(random_value(type_k, rng))
        values.append([random_value(type_v, rng) for _ in range(v)])
        needles += [NEEDLE.format(type_v=type_v, key=keys[-1], value=val) for val in values[-1]]
    rng.shuffle(needles)
    picked = rng.sample(range(k), q)
    query = (
        keys[picked[0]] if q == 1 else ", ".join(keys[i] for i in picked[:-1]) + ", and " + keys[picked[-1]]
    )
    answers = [a for i in picked for a in values[i]]
    texts = _texts(type_v, q * v == 1, query)
    layout_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        lay = random.Random(f"{layout_seed}-{n}")
        if kind == "essay":
            sents = split_sentences(" ".join(words_of(haystack, n)))
            depths = sorted(lay.sample(DEPTHS, len(needles)))
            cuts = [int(len(sents) * d / 100) for d in depths]
            pieces, last = [], 0
            for cut, needle in zip(cuts, needles, strict=True):
                pieces += [" ".join(sents[last:cut]), needle]
                last = cut
            pieces.append(" ".join(sents[last:]))
            context = " ".join(p for p in pieces if p)
        else:
            if kind == "noise":
                sents = [NOISE] * n
            else:
                sents = [
                    NEEDLE.format(
                        type_v=type_v, key=random_value(type_k, lay), value=random_value(type_v, lay)
                    )
                    for _ in range(n)
                ]
            positions = sorted(lay.sample(range(n + 1), len(needles)), reverse=True)
            for pos, needle in zip(positions, needles, strict=True):
                sents.insert(pos, needle)
            depths = sorted(100.0 * p / max(n, 1) for p in positions)
            context = "\n".join(sents)
        meta = {
            "depth": depths[0] if len(depths) == 1 else depths,
            "haystack": kind if kind != "essay" else haystack,
        }
        return {**texts, "context": context, "answers": answers, "meta": meta}

    return build


def generate(
    task: str,
    tokenizer: Any,
    context_length: int,
    num_samples: int,
    seed: int,
    profile: str = "chat",
    haystack: str = "pd_default",
) -> list[Example]:
    """RULER niah_* samples sized to ``context_length`` with the model's tokenizer."""
    kind = NIAH_TASKS[task][0]
    builders = [
        _builder(task, sample_rng("ruler", task, context_length, seed, i), haystack)
        for i in range(num_samples)
    ]
    extra: dict[str, Any] = {}
    if kind == "essay":
        hay = load_haystack(haystack)
        extra = {"haystack_sha256": hay.sha256, "sentence_splitter": SPLITTER}
    step = 500 if kind == "essay" else 25
    return sized_examples(
        task,
        builders,
        tokenizer,
        context_length,
        seed,
        profile,
        step,
        TOKENS_TO_GENERATE["niah"],
        "string_match_all",
        extra,
    )
