"""Offline seeded InfiniteBench generators at any target token length (benchmarks.md §1.6).

They follow the official construction script (OpenBMB/InfiniteBench @ 88b3daa,
data/construct_synthetic_dataset.py): passkey keys are 5 digits 0-9 (leading zeros allowed); number_string
keys are 5 digits 0-9 with 5 digits duplicated in place (runs of repeats, leading zeros allowed); kv_retrieval
is "JSON data:" + v4-UUID pairs with the queried pair at the sample's depth. Every pool grows on demand, so
the sizing search (eval.sizing.fit_units, bounded in tokenizer calls) always reaches the target.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from eval.errors import BenchmarkError
from eval.infinitebench.loader import make_example
from eval.infinitebench.synthetic_math import builder_code_run, builder_math_calc, builder_math_find
from eval.infinitebench.tasks import BUDGETS
from eval.nested import grid_depth, nested_depths
from eval.registry import TaskRequest, per_length, register_task
from eval.schema import Example
from eval.sizing import SIZING_RULE, example_counter, fit_units, sample_rng
from eval.templates import fill, load

_SYN = load("infinitebench")["synthetic"]
NOISE: str = _SYN["noise"]


def passkey_key(rng: random.Random) -> str:
    """Five independent digits 0-9 (the official passkey; may start with 0)."""
    return "".join(str(rng.randint(0, 9)) for _ in range(5))


def number_string_key(rng: random.Random) -> str:
    """Five digits 0-9, then five in-place duplications at random positions (the official layout)."""
    digits = [str(rng.randint(0, 9)) for _ in range(5)]
    for k in range(5):
        pos = rng.randint(0, 5 + k - 1)
        digits.insert(pos, digits[pos])
    return "".join(digits)


def _builder_needle(task: str, rng: random.Random, depth: float) -> Callable[[int], dict[str, Any]]:
    key = passkey_key(rng) if task == "passkey" else number_string_key(rng)
    needle = fill(_SYN[task]["needle"], key=key)
    question = _SYN[task]["question"]

    def build(n: int) -> dict[str, Any]:
        j = round(n * depth / 100)
        return {"context": NOISE * j + needle + NOISE * (n - j), "input": question, "answer": [key]}

    return build


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _short_pair(rng: random.Random) -> tuple[str, str]:
    from eval.ruler.words import adjective_noun

    return adjective_noun(rng), str(rng.randint(10000, 99999))


class _Pairs:
    """Unique-key (key, value) pairs drawn on demand from one RNG (so prefixes are reproducible)."""

    def __init__(self, rng: random.Random, short: bool) -> None:
        self._rng, self._short = rng, short
        self.items: list[tuple[str, str]] = []
        self._keys: set[str] = set()

    def prefix(self, n: int) -> list[tuple[str, str]]:
        while len(self.items) < n:
            pair = _short_pair(self._rng) if self._short else (_uuid(self._rng), _uuid(self._rng))
            if pair[0] not in self._keys:
                self._keys.add(pair[0])
                self.items.append(pair)
        return self.items[:n]


def _builder_kv(task: str, rng: random.Random, depth: float) -> Callable[[int], dict[str, Any]]:
    # kv_retrieval: official v4-UUID pairs. kv_retrieval_short (harness variant): "adjective-noun" keys
    # with 5-digit values, small enough for the embedded 135M model, same template and scorer.
    pairs = _Pairs(random.Random(rng.random()), short=task != "kv_retrieval")

    def build(n: int) -> dict[str, Any]:
        items = pairs.prefix(max(n, 1))
        key, value = items[round((len(items) - 1) * depth / 100)]
        body = ", ".join(f'"{k}": "{v}"' for k, v in items)
        context = _SYN["kv_retrieval"]["prefix"] + "{" + body + "}"
        return {
            "context": context,
            "input": fill(_SYN["kv_retrieval"]["question"], key=key),
            "answer": [value],
        }

    return build


DEPTH_TASKS = ("passkey", "number_string", "kv_retrieval", "kv_retrieval_short")


def _builder(
    task: str, index: int, depth: float, rng: random.Random
) -> tuple[Callable[[int], dict[str, Any]], int, int]:
    """(build(n) -> raw record, probe step, smallest unit count) for sample ``index`` (needle at ``depth``)."""
    if task in ("passkey", "number_string"):
        return _builder_needle(task, rng, depth), 25, 1
    if task in ("kv_retrieval", "kv_retrieval_short"):
        return _builder_kv(task, rng, depth), 10, 1
    if task == "math_find":
        return builder_math_find(index, rng), 100, 10
    if task == "code_run":
        return builder_code_run(index, rng), 20, 10
    if task == "math_calc":
        return builder_math_calc(rng), 100, 2
    raise BenchmarkError(f"InfiniteBench task {task!r} has no offline generator; it needs data_dir")


def generate(
    task: str, tokenizer: Any, context_length: int, num_samples: int, seed: int, profile: str = "chat"
) -> list[Example]:
    """``num_samples`` examples of ``task`` whose prompt + max_new_tokens fit ``context_length`` tokens.

    Samples spread over depth (retrieval) or cycle through the sub-tasks (math_find) / call depths (code_run).
    Sample i depends on i only, and a count's samples are the first of one sequence (``eval/nested.py``):
    growing ``num_samples`` keeps every sample of the smaller run.
    The ``reference`` profile uses the reference budgets (15/20/80 for passkey/number_string/kv_retrieval).
    """
    count = example_counter(tokenizer, profile)
    family = "reference" if profile == "reference" else "official"
    examples = []
    by_depth = task in DEPTH_TASKS  # the depth grid's spread order; the other tasks cycle by index
    samples = nested_depths(num_samples) if by_depth else [(i, grid_depth(i)) for i in range(num_samples)]
    for i, depth in samples:
        build, step, start = _builder(
            task, i, depth, sample_rng("infinitebench", task, context_length, seed, i)
        )
        meta = {"length": context_length, "depth": depth, "seed": seed,
                "source": "synthetic", "sizing": SIZING_RULE}  # fmt: skip

        def make(n: int, build=build, meta=meta, i=i) -> Example:
            ex = make_example(task, build(n), i, meta, family)
            if task == "math_calc":  # [decision] budget = the answer's length (+8), not the official 30000
                ex.max_new_tokens = len(tokenizer.encode(str(ex.answers), add_special_tokens=False)) + 8
            return ex

        def total(n: int, make=make) -> int:
            ex = make(n)
            return count(ex) + ex.max_new_tokens

        n = fit_units(total, context_length, step, start=start, what=f"InfiniteBench {task}")
        ex = make(n)
        ex.id = f"{task}-{context_length}-{seed}-{i}"
        ex.meta.update({"units": n, "prompt_tokens": count(ex), "profile": profile})
        if task == "math_find":
            ex.meta["sub_task"] = ex.answer_prefix.removeprefix("The ").removesuffix(" of the list is: ")
        examples.append(ex)
    return examples


@per_length
def _generate_task(request: TaskRequest, length: int) -> list[Example]:
    return generate(
        request.task, request.tokenizer, length, request.num_samples, request.seed, request.profile
    )


# (task, template = metric, strata): the upstream tasks with official files that are also generated offline,
# then kv_retrieval_short, a harness variant (generated only) with kv_retrieval's template and scorer.
for _task, _template, _strata in (
    ("passkey", "passkey", "depth"),
    ("number_string", "number_string", "depth"),
    ("kv_retrieval", "kv_retrieval", "depth"),
    ("math_find", "math_find", "sub-task"),
    ("code_run", "code_run", "call depth"),
    ("math_calc", "math_calc", "none"),
    ("kv_retrieval_short", "kv_retrieval", "depth"),
):
    _upstream = _task == _template
    register_task(f"infinitebench/{_task}", template=_template, metric=_template, strata=_strata,
                  max_new_tokens=BUDGETS["official"][_template], upstream=_upstream,
                  data="optional" if _upstream else "none")(_generate_task)  # fmt: skip
