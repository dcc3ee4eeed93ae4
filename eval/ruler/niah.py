"""RULER niah_* generators (benchmarks.md §2.2): needles in noise, essay or needle-format haystacks.

Layouts follow scripts/data/synthetic/niah.py (NVIDIA/RULER @ c3f5e3b; the same in TANIGUCHIREI/ASL @ 9e1ec0c):
essay needles go between sentences at depths sampled from 40 even depths (empty chunks kept, so depth 0
starts the context with a space); noise / needle-format needles are inserted at sampled indexes in
range(n). When q*v == 1 the strings are made singular; the ``reference`` profile also carries that rewrite to
its system prompt ("You is a helpful assistant.").
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from eval.haystack import SPLITTER, describe, sentences_of
from eval.registry import TaskRequest, per_length, register_task
from eval.ruler.common import (
    NEEDLE,
    NOISE,
    TOKENS_TO_GENERATE,
    singularize,
    sized_examples,
    task_parts,
    task_strings,
)
from eval.ruler.words import random_value
from eval.schema import Example
from eval.sizing import sample_rng
from eval.templates import fill

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
DEPTHS = [int(d) for d in np.round(np.linspace(0, 100, num=40, endpoint=True))]


def _texts(type_v: str, singular: bool, query: str, profile: str) -> dict[str, str]:
    strings = task_strings("niah", profile)
    template, prefix = strings["template"], strings["answer_prefix"]
    if singular:
        template, prefix, type_v = singularize(template), singularize(prefix), type_v[:-1]
    return task_parts(template, prefix, type_needle_v=type_v, query=query)


def _essay_context(sents: list[str], needles: list[str], lay: random.Random) -> tuple[str, list[int]]:
    depths = lay.sample(DEPTHS, len(needles))
    cuts = [0] + sorted(int(len(sents) * d / 100) for d in depths) + [len(sents)]
    pieces = []
    for i in range(1, len(cuts)):
        pieces.append(" ".join(sents[cuts[i - 1] : cuts[i]]))
        if i - 1 < len(needles):
            pieces.append(needles[i - 1])
    return " ".join(pieces), sorted(depths)


def _builder(
    task: str, rng: random.Random, haystack: str | None, profile: str
) -> Callable[[int], dict[str, Any]]:
    kind, type_k, type_v, k, v, q = NIAH_TASKS[task]
    k = max(k, q)
    keys, values, needles = [], [], []
    for _ in range(k):
        keys.append(random_value(type_k, rng))
        values.append([random_value(type_v, rng) for _ in range(v)])
        needles += [fill(NEEDLE, type_needle_v=type_v, key=keys[-1], value=val) for val in values[-1]]
    rng.shuffle(needles)
    picked = rng.sample(range(k), q)
    query = (
        keys[picked[0]] if q == 1 else ", ".join(keys[i] for i in picked[:-1]) + ", and " + keys[picked[-1]]
    )
    answers = [a for i in picked for a in values[i]]
    texts = _texts(type_v, q * v == 1, query, profile)
    layout_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        lay = random.Random(f"{layout_seed}-{n}")
        if kind == "essay":
            context, depths = _essay_context(sentences_of(haystack, n), needles, lay)
        else:
            if kind == "noise":
                sents = [NOISE] * n
            else:
                sents = [fill(NEEDLE, type_needle_v=type_v, key=random_value(type_k, lay),
                              value=random_value(type_v, lay)) for _ in range(n)]  # fmt: skip
            indexes = sorted(lay.sample(range(n), len(needles)), reverse=True)
            for index, needle in zip(indexes, needles, strict=True):
                sents.insert(index, needle)
            depths = sorted(round(100.0 * i / n, 2) for i in indexes)
            context = "\n".join(sents)
        meta = {"depth": depths[0] if len(depths) == 1 else depths, "query": query, "singular": q * v == 1}
        return {**texts, "context": context, "answers": answers, "meta": meta}

    return build


def generate(
    task: str,
    tokenizer: Any,
    context_length: int,
    num_samples: int,
    seed: int,
    profile: str = "chat",
    haystack: str | None = None,
) -> list[Example]:
    """RULER niah_* samples sized to ``context_length`` with the model's tokenizer.

    ``haystack`` (essay tasks): Paul Graham essays (essay:<path>) or another provider; None uses the bundled
    text, labelled in meta as the offline fallback for the essays.
    """
    kind = NIAH_TASKS[task][0]
    builders = [_builder(task, sample_rng("ruler", task, context_length, seed, i), haystack, profile)
                for i in range(num_samples)]  # fmt: skip
    extra: dict[str, Any] = {"haystack": kind}
    if kind == "essay":
        extra = {**describe(haystack, "Paul Graham essays"), "sentence_splitter": SPLITTER}
    step = 500 if kind == "essay" else 25
    return sized_examples(task, builders, tokenizer, context_length, seed, profile, step,
                          TOKENS_TO_GENERATE["niah"], "string_match_all", extra)  # fmt: skip


def _generate_task(request: TaskRequest, length: int) -> list[Example]:
    return generate(request.task, request.tokenizer, length, request.num_samples, request.seed, request.profile,
                    request.haystack)  # fmt: skip


for _task in NIAH_TASKS:
    register_task(f"ruler/{_task}", template="niah", metric="string_match_all",
                  max_new_tokens=TOKENS_TO_GENERATE["niah"], upstream=True)(per_length(_generate_task))  # fmt: skip
