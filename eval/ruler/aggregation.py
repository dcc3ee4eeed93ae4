"""RULER vt (variable tracking), cwe and fwe generators (benchmarks.md §2.2)."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import zeta

from eval.ruler.common import NOISE, TOKENS_TO_GENERATE, sized_examples
from eval.ruler.words import cwe_words, random_upper
from eval.schema import Example
from eval.sizing import sample_rng

VT_HEAD = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n"
CWE_HEAD = "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n"
CWE_QUESTION = "Question: What are the 10 most common words in the above list?"
CWE_PREFIX = " Answer: The top 10 words that appear most often in the list are:"
FWE_HEAD = "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. "
FWE_QUESTION = "Question: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text?"
FWE_PREFIX = " Answer: According to the coded text above, the three most frequently appeared words are:"


def _vt_prefix(num_v: int, value: str) -> str:
    # The upstream typo "assgined" is kept on purpose (benchmarks.md §2.2).
    return f" Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are assgined the value {value}, they are: "


def _vt_chain(rng: random.Random, hops: int, letters: int) -> tuple[list[str], list[str]]:
    names: list[str] = []
    while len(names) < hops + 1:
        name = random_upper(rng, letters)
        if name not in names:
            names.append(name)
    chain = [f"VAR {names[0]} = {rng.randint(10000, 99999)}"] + [
        f"VAR {names[j + 1]} = VAR {names[j]} " for j in range(hops)
    ]
    return names, chain


def _vt_context(rng: random.Random, chain: list[str], noises: int) -> str:
    sents = [NOISE + "\n"] * noises
    slots = range(len(sents) + 1)
    picks = rng.sample(slots, len(chain)) if len(slots) >= len(chain) else rng.choices(slots, k=len(chain))
    for pos, j in zip(sorted(picks), range(len(chain)), strict=True):
        sents.insert(pos + j, chain[j])
    return "\n".join(sents).replace(". \n", ".\n")


def _vt_builder(rng: random.Random, hops: int, icl_noises: int) -> Callable[[int], dict[str, Any]]:
    icl_names, icl_chain = _vt_chain(rng, min(hops, 10), 3)
    icl_value = icl_chain[0].split("=")[-1].strip()
    icl_q = f"Question: Find all variables that are assigned the value {icl_value} in the text above."
    icl_text = (
        VT_HEAD
        + _vt_context(rng, icl_chain, icl_noises)
        + "\n"
        + icl_q
        + _vt_prefix(hops + 1, icl_value)
        + " ".join(icl_names)
    )
    names, chain = _vt_chain(rng, hops, 5)
    value = chain[0].split("=")[-1].strip()
    layout_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        context = _vt_context(random.Random(f"{layout_seed}-{n}"), chain, n)
        return {
            "template": icl_text + "\n\n" + VT_HEAD + "{context}\n{question}",
            "context": context,
            "question": f"Question: Find all variables that are assigned the value {value} in the text above.",
            "answer_prefix": _vt_prefix(hops + 1, value),
            "answers": names,
        }

    return build


def _numbered(words: list[str]) -> str:
    return " ".join(f"{i + 1}. {w}" for i, w in enumerate(words))


def _cwe_list(
    rng: random.Random, picked: list[str], common: int, uncommon: int, num_common: int = 10
) -> tuple[str, list[str]]:
    words = picked[:num_common] * common + picked[num_common:] * uncommon
    rng.shuffle(words)
    return _numbered(words), picked[:num_common]


def _cwe_builder(rng: random.Random, context_length: int) -> Callable[[int], dict[str, Any]]:
    vocab = list(cwe_words())
    rng.shuffle(vocab)
    small = context_length < 4096
    ex_ctx, ex_ans = _cwe_list(
        rng, rng.sample(vocab, 20 if small else 40), 3 if small else 10, 1 if small else 3
    )
    perm = rng.sample(vocab, len(vocab))  # prefixes of one permutation keep the length monotone in n
    icl = CWE_HEAD + ex_ctx + "\n" + CWE_QUESTION + CWE_PREFIX + " " + _numbered(ex_ans)
    freq = (6, 1) if small else (30, 3)
    sample_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        context, answers = _cwe_list(random.Random(sample_seed), perm[: n + 10], *freq)
        return {
            "template": icl + "\n" + CWE_HEAD + "{context}\n{question}",
            "context": context,
            "question": CWE_QUESTION,
            "answer_prefix": CWE_PREFIX,
            "answers": answers,
        }

    return build


def _fwe_builder(
    rng: random.Random, context_length: int, alpha: float = 2.0
) -> Callable[[int], dict[str, Any]]:
    size = max((context_length - 50) // 50, 10)
    vocab: list[str] = []
    while len(set(vocab)) < size:
        vocab.append("".join(rng.choices(string.ascii_lowercase, k=6)))
    vocab = sorted(set(vocab))
    rng.shuffle(vocab)
    vocab[0] = "..."  # the top-ranked word is noise
    shuffle_seed = rng.random()
    ranks = np.arange(1, len(vocab) + 1)

    def build(n: int) -> dict[str, Any]:
        counts = (n * ranks**-alpha / zeta(alpha)).astype(int)
        words = [w for w, c in zip(vocab, counts, strict=True) for _ in range(c)]
        random.Random(shuffle_seed).shuffle(words)
        return {
            "template": FWE_HEAD + "{context}\n{question}",
            "context": " ".join(words),
            "question": FWE_QUESTION,
            "answer_prefix": FWE_PREFIX,
            "answers": vocab[1:4],
        }

    return build


def generate(
    task: str,
    tokenizer: Any,
    context_length: int,
    num_samples: int,
    seed: int,
    profile: str = "chat",
    hops: int = 4,
) -> list[Example]:
    """vt / cwe / fwe samples sized to ``context_length`` with the model's tokenizer."""
    rngs = [sample_rng("ruler", task, context_length, seed, i) for i in range(num_samples)]
    # (builders, sizing step in units, extra meta, first unit count) per task, as in RULER's generators
    if task == "vt":
        icl_noises = 5 if context_length < 4096 else 15
        builders, step, extra, start = [_vt_builder(r, hops, icl_noises) for r in rngs], 25, {"hops": hops}, 1
    elif task == "cwe":
        builders, step, extra, start = [_cwe_builder(r, context_length) for r in rngs], 50, None, 1
    else:
        builders, step, extra, start = [_fwe_builder(r, context_length) for r in rngs], 100, None, 50
    return sized_examples(
        task,
        builders,
        tokenizer,
        context_length,
        seed,
        profile,
        step,
        TOKENS_TO_GENERATE[task],
        "string_match_all",
        extra,
        start=start,
    )
