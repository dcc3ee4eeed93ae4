"""RULER qa_1 (SQuAD v2 dev) and qa_2 (HotpotQA dev distractor) from a user path (benchmarks.md §2.2)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from eval.errors import BenchmarkError
from eval.ruler.common import TOKENS_TO_GENERATE, sized_examples
from eval.schema import Example
from eval.sizing import sample_rng

FILES = {"qa_1": ("squad.json", "dev-v2.0.json"), "qa_2": ("hotpotqa.json", "hotpot_dev_distractor_v1.json")}
INSTRUCTION = "Answer the question based on the given documents. Only give me the answer and do not output any other words."
TEMPLATE = (
    INSTRUCTION + "\n\nThe following are given documents.\n\n{context}\n\n" + INSTRUCTION + "\n\n{question}"
)


def find_file(task: str, data_dir: str | Path | None) -> Path | None:
    """The QA source file for ``task`` under ``data_dir`` (either accepted name), or None."""
    if not data_dir:
        return None
    for name in FILES[task]:
        path = Path(data_dir).expanduser() / name
        if path.is_file():
            return path
    return None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BenchmarkError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None


@lru_cache(maxsize=4)
def read_squad(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Answerable SQuAD v2 questions with gold / same-article paragraph indices, and all paragraphs."""
    data = _load_json(path)["data"]
    docs = sorted({p["context"] for d in data for p in d["paragraphs"]})
    index = {c: i for i, c in enumerate(docs)}
    qas = []
    for article in data:
        same = [index[p["context"]] for p in article["paragraphs"]]
        for para in article["paragraphs"]:
            gold = index[para["context"]]
            for qa in para["qas"]:
                if qa.get("is_impossible"):
                    continue
                answers = [a["text"] for a in qa["answers"]]
                qas.append(
                    {
                        "query": qa["question"],
                        "outputs": answers,
                        "context": [gold],
                        "more": [i for i in same if i != gold],
                    }
                )
    return qas, docs


@lru_cache(maxsize=4)
def read_hotpotqa(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """HotpotQA questions with their "title\\nsentences" documents, and all documents."""
    data = _load_json(path)

    def doc(title: str, sents: list[str]) -> str:
        return f"{title}\n{''.join(sents)}"

    docs = sorted({doc(t, s) for d in data for t, s in d["context"]})
    index = {c: i for i, c in enumerate(docs)}
    qas = [
        {
            "query": d["question"],
            "outputs": [d["answer"]],
            "context": [index[doc(t, s)] for t, s in d["context"]],
            "more": [],
        }
        for d in data
    ]
    return qas, docs


def _builder(qa: dict[str, Any], docs: list[str], rng: random.Random) -> Callable[[int], dict[str, Any]]:
    gold, more = qa["context"], qa["more"]
    others = [i for i in range(len(docs)) if i not in set(gold) | set(more)]
    rng.shuffle(others)
    fill = list(more) + others  # same-article paragraphs first, then random ones
    shuffle_seed = rng.random()

    def build(n: int) -> dict[str, Any]:
        chosen = [docs[i] for i in gold + fill[: max(0, n - len(gold))]]
        random.Random(shuffle_seed).shuffle(chosen)
        context = "\n\n".join(f"Document {i + 1}:\n{d}" for i, d in enumerate(chosen))
        return {
            "template": TEMPLATE,
            "context": context,
            "question": f"Question: {qa['query']}",
            "answer_prefix": " Answer:",
            "answers": qa["outputs"],
            "meta": {"num_docs": len(chosen)},
        }

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
    """qa_1 / qa_2 samples; raises BenchmarkError when the source file is absent."""
    path = find_file(task, data_dir)
    if path is None:
        names = " or ".join(FILES[task])
        raise BenchmarkError(f"RULER {task} needs {names} in benchmark.data_dir (got {data_dir!r})")
    qas, docs = read_squad(path) if task == "qa_1" else read_hotpotqa(path)
    if not qas:
        raise BenchmarkError(f"{path}: no usable questions")
    pick = sample_rng("ruler", task, "questions", seed)
    chosen = pick.sample(range(len(qas)), min(num_samples, len(qas)))
    builders = [
        _builder(qas[j], docs, sample_rng("ruler", task, context_length, seed, i))
        for i, j in enumerate(chosen)
    ]
    extra = {"source": f"file:{path}"}
    examples = sized_examples(
        task,
        builders,
        tokenizer,
        context_length,
        seed,
        profile,
        10,
        TOKENS_TO_GENERATE["qa"],
        "string_match_part",
        extra,
        start=0,
    )
    for ex in examples:
        ex.meta["source"] = f"file:{path}"
    return examples
