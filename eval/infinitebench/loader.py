"""Official InfiniteBench records (local JSONL folder or the Hub) -> Examples, with a stratified subset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.datasources import file_sha256, infinitebench_records, read_jsonl
from eval.errors import BenchmarkError
from eval.infinitebench.tasks import BUDGETS, budget, normalize_answers, prompt_parts
from eval.registry import register_task, spec
from eval.schema import Example
from eval.subsets import draw

HF_DATASET = "xinrongzhang2022/InfiniteBench"
__all__ = ["HF_DATASET", "file_sha256", "load_task", "load_task_file", "make_example", "read_jsonl"]


def make_example(
    task: str, raw: dict[str, Any], index: int, meta: dict[str, Any], family: str = "official"
) -> Example:
    """Build an Example from one raw InfiniteBench record (missing keys default to empty).

    ``family`` picks the generation budget set: ``official`` or ``reference`` (15/20/80 for the retrieval tasks).
    """
    options = [str(o) for o in (raw.get("options") or [])]
    parts = prompt_parts(task, str(raw.get("input") or ""), options)
    answers = normalize_answers(task, raw.get("answer", raw.get("answers", [])), options)
    return Example(
        id=f"{task}-{raw.get('id', index)}",
        benchmark="infinitebench",
        task=task,
        context=str(raw.get("context") or ""),
        question=parts.question,
        answer_prefix=parts.answer_prefix,
        answers=answers,
        options=options,
        max_new_tokens=budget(task, family),
        metric=spec("infinitebench", task).metric,
        meta={"template": parts.template, "prefix_sep": parts.prefix_sep, **meta},
    )


def load_task(
    task: str,
    data_dir: Any,
    num_samples: int | None = None,
    seed: int = 0,
    family: str = "official",
    revision: Any = None,
) -> list[Example]:
    """Examples of ``task`` from the official records; ``num_samples`` draws a seeded stratified subset.

    Missing data raises MissingDataError; ``num_samples`` above the record count raises BenchmarkError.
    """
    records, provenance = infinitebench_records(task, data_dir, revision)
    examples = []
    for index, subset in draw(task, records, num_samples, seed):
        raw = records[index]
        line = raw.pop("_line", index + 1)
        meta = {**provenance, "line": line, "subset": subset}
        try:
            examples.append(make_example(task, raw, index, meta, family))
        except BenchmarkError as err:
            raise BenchmarkError(f"{provenance['source'].removeprefix('file:')}:{line}: {err}") from None
    return examples


def load_task_file(
    task: str, data_dir: str | Path | None, limit: int | None = None, seed: int = 0
) -> list[Example]:
    """``{data_dir}/{task}.jsonl`` as Examples; ``limit`` draws a seeded stratified subset of that size."""
    return load_task(task, data_dir, limit, seed)


# The upstream tasks with official files only (no offline generator); the generated ones are registered in
# eval/infinitebench/synthetic.py. Metrics: the official per-task scorers (eval/scoring.py).
for _task, _metric in (
    ("longbook_sum_eng", "rouge_lsum"),
    ("longbook_choice_eng", "longbook_choice_eng"),
    ("longbook_qa_eng", "qa_f1"),
    ("longbook_qa_chn", "qa_f1_zh"),
    ("longdialogue_qa_eng", "longdialogue_qa_eng"),
    ("code_debug", "code_debug"),
):  # subsets are stratified by book (eval/subsets.py)
    register_task(f"infinitebench/{_task}", template=_task, metric=_metric, strata="book", upstream=True,
                  data="required", max_new_tokens=BUDGETS["official"][_task])(None)  # fmt: skip
