"""RULER vt (variable tracking): one chain of 4 hops in noise, after a one-shot example (benchmarks.md §2.2).

official (NVIDIA/RULER @ c3f5e3b, variable_tracking.py): noise sentences joined by "\\n"; the one-shot uses
3-letter names, ~500 tokens, the task template + answer prefix, then " NAMES\\n", and is followed by "\\n".
reference (TANIGUCHIREI/ASL @ 9e1ec0c): noise units end with "\\n" and are joined by " "; the one-shot's
template is whitespace-collapsed with its last word ("above.") dropped (the wrapper tail was glued to it),
sized to 500 tokens including 30 generated ones, and sits after the wrapper head as " ONESHOT NAMES\\n\\n\\n\\n".
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

from eval.registry import TaskRequest, per_length, register_task
from eval.ruler.common import NOISE, TOKENS_TO_GENERATE, family_of, sized_examples, task_parts, task_strings
from eval.schema import Example
from eval.sizing import fit_units, sample_rng
from eval.templates import fill

ICL_TOKENS = 500


def _names(rng: random.Random, count: int, letters: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choices(string.ascii_uppercase, k=letters))
        if name not in names:
            names.append(name)
    return names


def _chain(names: list[str], value: int) -> list[str]:
    return [f"VAR {names[0]} = {value}"] + [
        f"VAR {names[j + 1]} = VAR {names[j]} " for j in range(len(names) - 1)
    ]


def _context(chain: list[str], noises: int, lay: random.Random, family: str) -> str:
    unit, joiner = (NOISE, "\n") if family == "official" else (NOISE + "\n", " ")
    sents = [unit] * noises
    positions = sorted(lay.sample(range(len(sents)), len(chain)))
    for j, pos in enumerate(positions):
        sents.insert(pos + j, chain[j])
    return joiner.join(sents).replace(". \n", ".\n")


def _one_shot(rng: random.Random, hops: int, family: str, tokenizer: Any) -> dict[str, Any]:
    """The one-shot text (sized to ~500 tokens) and its parts."""
    strings = task_strings("vt", family)
    names, value = _names(rng, min(hops, 10) + 1, 3), rng.randint(10000, 99998)
    chain, seed = _chain(names, value), rng.random()
    template = strings["template"] if family == "official" else " ".join(strings["template"].split()[:-1])

    def text(m: int) -> str:
        ctx = _context(chain, m, random.Random(f"{seed}-{m}"), family)
        fields = {"context": ctx, "query": value, "num_v": len(names)}
        return fill(template, **fields) + fill(strings["answer_prefix"], **fields)

    def tokens(m: int) -> int:
        if family == "official":  # the one-shot input alone must fit 500 tokens
            return len(tokenizer.encode(text(m), add_special_tokens=False))
        # [ref] counts the input, " " + the answer list's repr, and the 30 tokens to generate
        return (
            len(tokenizer.encode(f"{text(m)} {names}", add_special_tokens=False)) + TOKENS_TO_GENERATE["vt"]
        )

    m = fit_units(tokens, ICL_TOKENS, 5, start=len(chain), what="RULER vt one-shot")
    ctx = _context(chain, m, random.Random(f"{seed}-{m}"), family)
    tail = "\n" if family == "official" else "\n\n"
    return {
        "text": text(m) + " " + " ".join(names) + tail,
        "context": ctx,
        "query": str(value),
        "answers": names,
    }


def _builder(rng: random.Random, hops: int, family: str, tokenizer: Any) -> Callable[[int], dict[str, Any]]:
    shot = _one_shot(rng, hops, family, tokenizer)
    block = shot["text"] + "\n" if family == "official" else " " + shot["text"] + "\n\n"
    strings = task_strings("vt", family)
    names, value = _names(rng, hops + 1, 5), rng.randint(10000, 99998)
    chain, layout_seed = _chain(names, value), rng.random()
    parts = task_parts(strings["template"], strings["answer_prefix"], query=value, num_v=hops + 1)
    meta = {"hops": hops, "query": str(value), "icl": {k: v for k, v in shot.items() if k != "text"}}

    def build(n: int) -> dict[str, Any]:
        context = _context(chain, n, random.Random(f"{layout_seed}-{n}"), family)
        return {
            **parts,
            "template": block + parts["template"],
            "context": context,
            "answers": names,
            "meta": meta,
        }

    return build


def generate(
    tokenizer: Any, context_length: int, num_samples: int, seed: int, profile: str = "chat", hops: int = 4
) -> list[Example]:
    """vt samples sized to ``context_length`` with the model's tokenizer (noise sentences as units)."""
    family = family_of(profile)
    builders = [_builder(sample_rng("ruler", "vt", context_length, seed, i), hops, family, tokenizer)
                for i in range(num_samples)]  # fmt: skip
    return sized_examples("vt", builders, tokenizer, context_length, seed, profile, 25,
                          TOKENS_TO_GENERATE["vt"], "string_match_all", {"haystack": "noise"},
                          start=hops + 1)  # fmt: skip


@register_task("ruler/vt", template="variable_tracking", metric="string_match_all",
               max_new_tokens=TOKENS_TO_GENERATE["vt"], upstream=True)  # fmt: skip
@per_length
def _generate_task(request: TaskRequest, length: int) -> list[Example]:
    return generate(request.tokenizer, length, request.num_samples, request.seed, request.profile)
