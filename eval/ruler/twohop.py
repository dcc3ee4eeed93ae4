"""RULER-style niah_twohop (a harness task, no upstream): a two-hop needle in noise.

The question names a key; one needle links that key to a bridge word ("One of the special magic words for
KEY is: BRIDGE."), a second links the bridge to the 7-digit answer ("One of the special magic numbers for
BRIDGE is: VALUE."). A decoy chain of the same shape sits in the same noise, so the answer is not the only
number in the context. The question names only the key: a query-aware selection must keep a needle the
question does not mention (the bridge's), which single-hop NIAH never asks of a layer-wise pruner.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from eval.registry import TaskRequest, per_length, register_task, spec
from eval.ruler.common import NEEDLE, NOISE, sized_examples, task_parts, task_strings
from eval.ruler.words import adjective_noun, random_value
from eval.schema import Example
from eval.sizing import sample_rng
from eval.templates import fill


def chain(rng: random.Random) -> tuple[str, str, str]:
    """(key, bridge, value): two distinct adjective-noun words and a 7-digit number."""
    key, bridge = adjective_noun(rng), adjective_noun(rng)
    while bridge == key:
        bridge = adjective_noun(rng)
    return key, bridge, random_value("numbers", rng)


def needles(key: str, bridge: str, value: str) -> list[str]:
    """The two needles of one chain: key -> bridge word, bridge -> number."""
    return [fill(NEEDLE, type_needle_v="words", key=key, value=bridge),
            fill(NEEDLE, type_needle_v="numbers", key=bridge, value=value)]  # fmt: skip


def _builder(rng: random.Random, profile: str) -> Callable[[int], dict[str, Any]]:
    key, bridge, value = chain(rng)
    decoy = chain(rng)
    while {decoy[0], decoy[1]} & {key, bridge}:
        decoy = chain(rng)
    placed = needles(key, bridge, value) + needles(*decoy)
    rng.shuffle(placed)
    strings = task_strings("niah_twohop", profile)
    parts = task_parts(strings["template"], strings["answer_prefix"], query=key)
    layout_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        lay, sents = random.Random(f"{layout_seed}-{n}"), [NOISE] * n
        indexes = sorted(lay.sample(range(n), len(placed)), reverse=True)
        for index, needle in zip(indexes, placed, strict=True):
            sents.insert(index, needle)
        meta = {"query": key, "bridge": bridge, "decoy": list(decoy),
                "depth": sorted(round(100.0 * i / n, 2) for i in indexes)}  # fmt: skip
        return {**parts, "context": "\n".join(sents), "answers": [value], "meta": meta}

    return build


@register_task("ruler/niah_twohop", template="niah_twohop", metric="string_match_all", max_new_tokens=32)
@per_length
def generate(request: TaskRequest, length: int) -> list[Example]:
    """niah_twohop samples sized to ``length`` with the model's tokenizer (noise sentences as units)."""
    task = spec("ruler", request.task)  # the registered budget and metric
    builders = [_builder(sample_rng("ruler", task.task, length, request.seed, i), request.profile)
                for i in range(request.num_samples)]  # fmt: skip
    return sized_examples(task.task, builders, request.tokenizer, length, request.seed, request.profile, 25,
                          task.max_new_tokens, task.metric, {"haystack": "noise"}, start=4)  # fmt: skip
