"""RULER qa_1 (SQuAD v2 dev) and qa_2 (HotpotQA dev distractor) from a local folder or the Hub (§2.2).

As scripts/data/synthetic/qa.py: the gold documents, then same-article paragraphs (SQuAD), then random
others; "Document {i}:\\n{doc}" blocks joined by blank lines in a seeded shuffle. Past the whole document
pool the official script repeats the documents; [ref] stops growing (``reference`` caps the same way,
recorded in ``meta.pool_capped``). [decision] Questions are a seeded sample, not the first k of the file.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from eval.datasources import qa_source
from eval.errors import BenchmarkError
from eval.nested import nested_sample
from eval.registry import TaskRequest, per_length, register_task
from eval.ruler.common import (
    DOCUMENT,
    TOKENS_TO_GENERATE,
    family_of,
    sized_examples,
    task_parts,
    task_strings,
)
from eval.schema import Example
from eval.sizing import sample_rng
from eval.templates import fill


def read_squad(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Answerable SQuAD v2 questions with gold / same-article paragraph indices, and all paragraphs."""
    try:
        articles = data["data"]
        docs = sorted({p["context"] for d in articles for p in d["paragraphs"]})
    except (KeyError, TypeError) as err:
        raise BenchmarkError(f"SQuAD data is not in the official v2 layout (missing {err})") from None
    index = {c: i for i, c in enumerate(docs)}
    qas = []
    for article in articles:
        same = [index[p["context"]] for p in article["paragraphs"]]
        for para in article["paragraphs"]:
            gold = index[para["context"]]
            for qa in para["qas"]:
                if not qa.get("is_impossible"):
                    qas.append({"query": qa["question"], "outputs": [a["text"] for a in qa["answers"]],
                                "context": [gold], "more": [i for i in same if i != gold]})  # fmt: skip
    return qas, docs


def read_hotpotqa(data: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """HotpotQA questions with their "title\\nsentences" documents, and all documents."""

    def doc(title: str, sents: list[str]) -> str:
        return f"{title}\n{''.join(sents)}"

    try:
        docs = sorted({doc(t, s) for d in data for t, s in d["context"]})
        index = {c: i for i, c in enumerate(docs)}
        qas = [{"query": d["question"], "outputs": [d["answer"]],
                "context": [index[doc(t, s)] for t, s in d["context"]], "more": []} for d in data]  # fmt: skip
    except (KeyError, TypeError, ValueError) as err:
        raise BenchmarkError(
            f"HotpotQA data is not in the official layout ({type(err).__name__}: {err})"
        ) from None
    return qas, docs


def _builder(
    qa: dict[str, Any], docs: list[str], rng: random.Random, profile: str
) -> Callable[[int], dict[str, Any]]:
    gold, more = list(qa["context"]), list(qa["more"])
    rng.shuffle(more)
    taken = set(gold) | set(more)
    others = [i for i in range(len(docs)) if i not in taken]
    rng.shuffle(others)
    fill_order = more + others  # same-article paragraphs first, then random ones
    shuffle_seed = rng.random()
    strings = task_strings("qa", profile)
    parts = task_parts(strings["template"], strings["answer_prefix"], query=qa["query"])

    def build(n: int) -> dict[str, Any]:
        if n < len(docs):
            chosen = [docs[i] for i in gold + fill_order[: max(0, n - len(gold))]]
        else:  # RULER main repeats the document pool
            chosen = (docs * (n // len(docs) + 1))[:n]
        random.Random(shuffle_seed).shuffle(chosen)
        context = "\n\n".join(fill(DOCUMENT, i=i + 1, document=d) for i, d in enumerate(chosen))
        meta = {"num_docs": len(chosen), "query": qa["query"]}
        return {**parts, "context": context, "answers": qa["outputs"], "meta": meta}

    return build


def generate(
    task: str,
    tokenizer: Any,
    context_length: int,
    num_samples: int,
    seed: int,
    profile: str = "chat",
    data_dir: str | None = None,
    revision: Any = None,
) -> list[Example]:
    """qa_1 / qa_2 samples; MissingDataError when the data is absent, BenchmarkError for too many samples."""
    data, provenance = qa_source(task, data_dir, revision)
    qas, docs = read_squad(data) if task == "qa_1" else read_hotpotqa(data)
    if not qas:
        raise BenchmarkError(f"RULER {task}: no usable questions in {provenance['source']}")
    if num_samples > len(qas):
        raise BenchmarkError(
            f"RULER {task}: num_samples={num_samples} exceeds the {len(qas)} questions available"
        )
    chosen = nested_sample(sample_rng("ruler", task, "questions", seed), len(qas), num_samples)  # nested in k
    builders = [_builder(qas[j], docs, sample_rng("ruler", task, context_length, seed, i), profile)
                for i, j in enumerate(chosen)]  # fmt: skip
    reference = family_of(profile) == "reference"
    extra = {
        **provenance,
        "subset": {"method": "seeded sample", "k": num_samples, "population": len(qas), "seed": seed},
    }
    return sized_examples(task, builders, tokenizer, context_length, seed, profile, 10,
                          TOKENS_TO_GENERATE["qa"], "string_match_part", extra, start=1,
                          max_units=len(docs) if reference else None,
                          pool=f"document pool ({len(docs)} documents)", cap_pool=reference)  # fmt: skip


@per_length
def _generate_task(request: TaskRequest, length: int) -> list[Example]:
    return generate(request.task, request.tokenizer, length, request.num_samples, request.seed, request.profile,
                    request.data_dir, request.revision)  # fmt: skip


for _task in ("qa_1", "qa_2"):  # SQuAD / HotpotQA: data_dir (or hf) holds the questions
    register_task(f"ruler/{_task}", template="qa", metric="string_match_part", data="required",
                  max_new_tokens=TOKENS_TO_GENERATE["qa"], upstream=True)(_generate_task)  # fmt: skip
