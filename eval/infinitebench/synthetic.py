"""Offline seeded InfiniteBench generators at any target token length (benchmarks.md §1.6)."""

from __future__ import annotations

import json
import random
import statistics
import uuid
from collections.abc import Callable
from typing import Any

from eval.errors import BenchmarkError
from eval.infinitebench.loader import make_example
from eval.schema import Example
from eval.sizing import SIZING_RULE, depth_for, example_counter, fit_units, sample_rng

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n"
FIND_KINDS = ["largest number", "second largest number", "third largest number", "smallest number",
              "second smallest number", "third smallest number", "median"]  # fmt: skip


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _needle_raw(task: str, rng: random.Random) -> tuple[str, str, str]:
    if task == "passkey":
        key = str(rng.randint(10000, 99999))
        return key, f"The pass key is {key}. Remember it. {key} is the pass key.\n", "What is the pass key?"
    digits = [rng.choice("123456789")] + [rng.choice("0123456789") for _ in range(4)]
    digits += [rng.choice(digits) for _ in range(5)]
    rng.shuffle(digits)
    key = "".join(digits)
    needle = f"The sequence of digits is {key}. Remember it. {key} is the sequence of digits.\n"
    return key, needle, "What is the sequence of digits?"


def _builder_needle(task: str, rng: random.Random, depth: float) -> Callable[[int], dict[str, Any]]:
    key, needle, question = _needle_raw(task, rng)

    def build(n: int) -> dict[str, Any]:
        j = round(n * depth / 100)
        return {"context": NOISE * j + needle + NOISE * (n - j), "input": question, "answer": [key]}

    return build


def _short_pair(rng: random.Random) -> tuple[str, str]:
    from eval.ruler.words import adjective_noun

    return adjective_noun(rng), str(rng.randint(10000, 99999))


def _builder_kv(task: str, rng: random.Random, depth: float) -> Callable[[int], dict[str, Any]]:
    # kv_retrieval: official v4-UUID pairs. kv_retrieval_short (harness variant): "adjective-noun" keys
    # with 5-digit values, small enough for the embedded 135M model, same template and scorer.
    if task == "kv_retrieval":
        pool = [(_uuid(rng), _uuid(rng)) for _ in range(3000)]
    else:
        pool = list(dict(_short_pair(rng) for _ in range(3000)).items())

    def build(n: int) -> dict[str, Any]:
        pairs = pool[: max(n, 1)]
        pos = round((len(pairs) - 1) * depth / 100)
        key, value = pairs[pos]
        context = "JSON data:\n" + json.dumps(dict(pairs), ensure_ascii=False)
        question = f'Key: "{key}"\nThe value associated with the specified key is: '
        return {"context": context, "input": question, "answer": [value]}

    return build


def _builder_math_find(index: int, rng: random.Random) -> Callable[[int], dict[str, Any]]:
    kind = FIND_KINDS[index % len(FIND_KINDS)]
    pool = rng.sample(range(100), 10) + [rng.randint(0, 99) for _ in range(200000)]

    def build(n: int) -> dict[str, Any]:
        nums = pool[: max(n, 10)]
        ordered = sorted(set(nums))
        answers = {
            "largest number": ordered[-1], "second largest number": ordered[-2], "third largest number": ordered[-3],
            "smallest number": ordered[0], "second smallest number": ordered[1], "third smallest number": ordered[2],
            "median": statistics.median(nums),
        }  # fmt: skip
        return {"context": str(nums), "input": f"The {kind} of the list is: ", "answer": [answers[kind]]}

    return build


def _code_chain(rng: random.Random, ids: list[int]) -> tuple[list[str], list[int]]:
    """Functions calling each other along ``ids``; returns code blocks and their constants."""
    blocks, consts = [], []
    for pos, fid in enumerate(ids):
        c = rng.randint(-12, 17)
        consts.append(c)
        op = f"+ {c}" if c >= 0 else f"- {-c}"
        body = f"func_{ids[pos + 1]}(x) {op}" if pos + 1 < len(ids) else f"x {op}"
        blocks.append(f"def func_{fid}(x):\n    return {body}\n")
    return blocks, consts


def _builder_code_run(rng: random.Random) -> Callable[[int], dict[str, Any]]:
    ids = list(range(100000))
    rng.shuffle(ids)
    chains: list[tuple[list[str], list[int]]] = []
    cursor = 0
    for _ in range(5000):
        depth = rng.randint(2, 10)
        chains.append(_code_chain(rng, ids[cursor : cursor + depth]))
        cursor += depth
    x = rng.randint(-10, 10)
    order_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        # n counts functions: the query chain, whole distractor chains, then a chain suffix (still valid).
        blocks: list[str] = []
        for chain, _ in chains:
            room = max(n, len(chains[0][0])) - len(blocks)
            if room <= 0:
                break
            blocks += chain[-room:]
        random.Random(order_seed).shuffle(blocks)
        head = chains[0][0][0].split("(")[0][4:]
        value = x + sum(chains[0][1])
        question = f"Please give me the exact value of {head}({x})."
        return {"context": "\n".join(blocks), "input": question, "answer": [value]}

    return build


def _builder_math_calc(rng: random.Random) -> Callable[[int], dict[str, Any]]:
    terms = [rng.randint(0, 9) for _ in range(100000)]
    ops = [rng.choice("+-") for _ in range(100000)]

    def build(n: int) -> dict[str, Any]:
        n = max(n, 2)
        expr, value, values = str(terms[0]), terms[0], [terms[0]]
        for t, op in zip(terms[1:n], ops[1:n], strict=True):
            value = value + t if op == "+" else value - t
            expr += f" {op} {t}"
            values.append(value)
        return {"context": expr, "input": "", "answer": values}

    return build


def generate(
    task: str, tokenizer: Any, context_length: int, num_samples: int, seed: int, profile: str = "chat"
) -> list[Example]:
    """``num_samples`` examples of ``task`` whose prompt + max_new_tokens fit ``context_length`` tokens."""
    count = example_counter(tokenizer, profile)
    examples = []
    for i in range(num_samples):
        rng = sample_rng("infinitebench", task, context_length, seed, i)
        depth = depth_for(i, num_samples)
        if task in ("passkey", "number_string"):
            build, step = _builder_needle(task, rng, depth), 25
        elif task in ("kv_retrieval", "kv_retrieval_short"):
            build, step = _builder_kv(task, rng, depth), 10
        elif task == "math_find":
            build, step = _builder_math_find(i, rng), 100
        elif task == "code_run":
            build, step = _builder_code_run(rng), 10
        elif task == "math_calc":
            build, step = _builder_math_calc(rng), 100
        else:
            raise BenchmarkError(f"InfiniteBench task {task!r} has no offline generator; it needs data_dir")
        meta = {
            "length": context_length,
            "depth": depth,
            "seed": seed,
            "source": "synthetic",
            "sizing": SIZING_RULE,
        }

        def make(n: int, build=build, meta=meta, i=i) -> Example:
            ex = make_example(task, build(n), i, meta)
            if task == "math_calc":  # the answer is as long as the expression: budget for it.
                ex.max_new_tokens = len(tokenizer.encode(str(ex.answers))) + 8
            return ex

        def total(n: int, make=make) -> int:
            ex = make(n)
            return count(ex) + ex.max_new_tokens

        n = fit_units(total, context_length, step, start=1)
        ex = make(n)
        ex.id = f"{task}-{context_length}-{seed}-{i}"
        ex.meta.update({"units": n, "prompt_tokens": count(ex), "profile": profile})
        examples.append(ex)
    return examples
