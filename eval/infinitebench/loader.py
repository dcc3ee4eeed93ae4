"""Load official InfiniteBench JSONL files (one per task) from a user directory, line by line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.errors import BenchmarkError
from eval.infinitebench.tasks import MAX_NEW_TOKENS, METRICS, VARIANTS, normalize_answers, prompt_parts
from eval.schema import Example

HF_DATASET = "xinrongzhang2022/InfiniteBench"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (recorded per sample as provenance)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record); a malformed line raises BenchmarkError naming file and line."""
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise BenchmarkError(f"{path}:{lineno}: malformed JSON line ({err.msg})") from None
            if not isinstance(record, dict):
                raise BenchmarkError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def make_example(task: str, raw: dict[str, Any], index: int, meta: dict[str, Any]) -> Example:
    """Build an Example from one raw InfiniteBench record (missing keys default to empty)."""
    base = VARIANTS.get(task, task)
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
        max_new_tokens=MAX_NEW_TOKENS[base],
        metric=METRICS[base],
        meta={"template": parts.template, "prefix_sep": parts.prefix_sep, **meta},
    )


def load_task_file(task: str, data_dir: str | Path | None, limit: int | None = None) -> list[Example]:
    """Read ``{data_dir}/{task}.jsonl``; ``limit`` keeps the first N records."""
    if not data_dir:
        raise BenchmarkError(
            f"InfiniteBench task {task!r} needs real data: set benchmark.data_dir to the JSONL folder"
        )
    path = Path(data_dir).expanduser() / f"{task}.jsonl"
    if not path.is_file():
        raise BenchmarkError(f"InfiniteBench file not found: {path}")
    meta = {"source": f"file:{path}", "file_sha256": file_sha256(path)}
    examples: list[Example] = []
    if limit is not None and limit < 1:
        return examples
    for lineno, raw in read_jsonl(path):
        try:
            examples.append(make_example(task, raw, len(examples), {**meta, "line": lineno}))
        except BenchmarkError as err:
            raise BenchmarkError(f"{path}:{lineno}: {err}") from None
        if limit is not None and len(examples) >= limit:
            break  # stop before parsing further lines
    return examples


def load_task_hf(task: str, cache_dir: str | None = None, limit: int | None = None) -> list[Example]:
    """Optional path through HF ``datasets`` with explicit features (never used in tests, offline cache)."""
    import datasets

    features = datasets.Features(
        {
            "id": datasets.Value("int64"),
            "context": datasets.Value("string"),
            "input": datasets.Value("string"),
            "answer": datasets.Sequence(datasets.Value("string")),
            "options": datasets.Sequence(datasets.Value("string")),
        }
    )
    ds = datasets.load_dataset(
        HF_DATASET, data_files={task: f"{task}.jsonl"}, split=task, features=features, cache_dir=cache_dir
    )
    out = []
    for i, raw in enumerate(ds):
        if limit is not None and i >= limit:
            break
        out.append(make_example(task, dict(raw), i, {"source": f"hf:{HF_DATASET}/{task}.jsonl"}))
    return out
