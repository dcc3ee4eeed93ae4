"""Real data: official files from a local folder, or the Hugging Face Hub through ``datasets`` (cache honoured).

``benchmark.data_dir`` is a folder of official files, or ``hf`` for the Hub (``HF_HUB_OFFLINE=1`` reads the
cache only). ``benchmark.data_revision`` pins a Hub revision (a string for every repository, or a mapping
repo -> revision). Every loader returns its records plus a provenance dict (source, revision or file hash)
that the examples carry in ``meta`` and :func:`eval.suite.describe_run` collects for the run metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from eval.errors import BenchmarkError, MissingDataError

HUB = {
    "infinitebench": {"repo": "xinrongzhang2022/InfiniteBench"},
    "squad": {"repo": "rajpurkar/squad_v2", "split": "validation"},
    "hotpotqa": {"repo": "hotpotqa/hotpot_qa", "name": "distractor", "split": "validation"},
    "pg19": {"repo": "emozilla/pg19-test", "split": "test"},
}
_SHA = re.compile(r"@([0-9a-f]{40})[/:]")


def is_hub(data_dir: Any) -> bool:
    """True when ``data_dir`` asks for the Hugging Face Hub (``hf``)."""
    return isinstance(data_dir, str) and data_dir.strip().lower() in ("hf", "hub")


def revision_for(revision: Any, repo: str) -> str | None:
    """The pinned revision of ``repo`` from ``benchmark.data_revision`` (str or mapping), else None."""
    if isinstance(revision, Mapping):
        value = revision.get(repo)
        return None if value is None else str(value)
    return None if revision is None else str(revision)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (recorded as provenance)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


LFS_POINTER = "version https://git-lfs.github.com/spec/v1"
#: fields of an official InfiniteBench record (OpenBMB/InfiniteBench data files); context and answer are required
IB_FIELDS = ("id", "context", "input", "answer", "options")
IB_REQUIRED = ("context", "answer")


def check_not_lfs(path: Path) -> None:
    """BenchmarkError when ``path`` is an unfetched Git LFS pointer rather than the data."""
    with open(path, "rb") as fh:
        head = fh.read(len(LFS_POINTER))
    if head == LFS_POINTER.encode():
        raise BenchmarkError(f"{path}:1: a Git LFS pointer, not the data (fetch it with `git lfs pull`)")


def check_fields(path: Path, lineno: int, record: dict[str, Any], known: tuple, required: tuple) -> None:
    """BenchmarkError naming file and line for a record that lacks a required field or has an unknown one."""
    fields = [k for k in record if not k.startswith("_")]
    missing = [k for k in required if k not in record]
    unknown = [k for k in fields if k not in known]
    if missing or unknown:
        what = "; ".join(x for x in (missing and f"missing {', '.join(missing)}",
                                     unknown and f"unknown {', '.join(unknown)}") if x)  # fmt: skip
        raise BenchmarkError(f"{path}:{lineno}: {what} (expected fields: {', '.join(known)})")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record); a malformed line raises BenchmarkError naming file and line."""
    path = Path(path)
    check_not_lfs(path)
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


def read_json(path: Path) -> Any:
    """A whole JSON file; malformed JSON (or a Git LFS pointer) raises BenchmarkError naming the file and line."""
    check_not_lfs(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BenchmarkError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def _resolved_revision(builder: Any) -> str | None:
    match = _SHA.search(str(getattr(getattr(builder, "config", None), "data_files", "")))
    return match.group(1) if match else None


def hub_rows(
    key: str, *, revision: str | None = None, **overrides: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of a Hub dataset (``HUB[key]`` updated by ``overrides``) and its provenance.

    A dataset that cannot be reached (offline without a cache, unknown repo) raises MissingDataError.
    """
    import datasets

    spec = {**HUB[key], **overrides}
    repo = spec["repo"]
    try:
        builder = datasets.load_dataset_builder(
            repo, spec.get("name"), data_files=spec.get("data_files"), features=spec.get("features"),
            revision=revision,
        )  # fmt: skip
        builder.download_and_prepare()
        rows = [dict(r) for r in builder.as_dataset(split=spec["split"])]
    except (OSError, ValueError, ImportError) as err:
        raise MissingDataError(
            f"hub dataset {repo} ({spec['split']}) unavailable: {_one_line(err)}"
        ) from None
    resolved = _resolved_revision(builder) or revision or "unresolved"
    return rows, {"source": f"hf:{repo}", "revision": resolved, "split": spec["split"]}


def infinitebench_records(
    task: str, data_dir: Any, revision: Any = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Raw records of ``{task}.jsonl`` (local folder or Hub) with their line numbers in ``_line``."""
    if is_hub(data_dir):
        import datasets

        # OpenBMB/InfiniteBench#19: the files differ in columns (kv_retrieval has no options): explicit features
        features = datasets.Features(
            {
                "id": datasets.Value("int64"),
                "context": datasets.Value("string"),
                "input": datasets.Value("string"),
                "answer": datasets.Sequence(datasets.Value("string")),
                "options": datasets.Sequence(datasets.Value("string")),
            }
        )
        repo = HUB["infinitebench"]["repo"]
        rows, prov = hub_rows(
            "infinitebench", revision=revision_for(revision, repo), split=task,
            data_files={task: f"{task}.jsonl"}, features=features,
        )  # fmt: skip
        return [{**r, "_line": i + 1} for i, r in enumerate(rows)], prov
    if not data_dir:
        raise MissingDataError(
            f"InfiniteBench task {task!r} needs real data: set benchmark.data_dir to the JSONL folder or 'hf'"
        )
    path = Path(str(data_dir)).expanduser() / f"{task}.jsonl"
    if not path.is_file():
        raise MissingDataError(f"InfiniteBench file not found: {path}")
    records = [{**rec, "_line": lineno} for lineno, rec in read_jsonl(path)]
    if not records:
        raise BenchmarkError(f"{path}:1: empty file (no records)")
    for rec in records:
        check_fields(path, rec["_line"], rec, IB_FIELDS, IB_REQUIRED)
    return records, {"source": f"file:{path}", "file_sha256": file_sha256(path)}


def squad_from_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Hub ``squad_v2`` rows -> the official SQuAD v2 JSON layout (articles, paragraphs, qas)."""
    articles: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        paragraphs = articles.setdefault(str(row.get("title", "")), {})
        texts = list((row.get("answers") or {}).get("text") or [])
        qa = {
            "question": row["question"],
            "answers": [{"text": t} for t in texts],
            "is_impossible": not texts,
        }
        paragraphs.setdefault(row["context"], []).append(qa)
    return {
        "data": [
            {"title": title, "paragraphs": [{"context": c, "qas": q} for c, q in paras.items()]}
            for title, paras in articles.items()
        ]
    }


def hotpotqa_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hub ``hotpot_qa`` (distractor) rows -> the official list of {question, answer, context: [[t, sents]]}."""
    out = []
    for row in rows:
        ctx = row.get("context") or {}
        pairs = list(zip(ctx.get("title") or [], ctx.get("sentences") or [], strict=False))
        out.append(
            {
                "question": row["question"],
                "answer": row["answer"],
                "context": [[t, list(s)] for t, s in pairs],
            }
        )
    return out


QA_FILES = {
    "qa_1": ("squad.json", "dev-v2.0.json"),
    "qa_2": ("hotpotqa.json", "hotpot_dev_distractor_v1.json"),
}


def qa_source(task: str, data_dir: Any, revision: Any = None) -> tuple[Any, dict[str, Any]]:
    """The SQuAD v2 dev (qa_1) or HotpotQA dev distractor (qa_2) data in the official layout, with provenance."""
    key = "squad" if task == "qa_1" else "hotpotqa"
    if is_hub(data_dir):
        rows, prov = hub_rows(key, revision=revision_for(revision, HUB[key]["repo"]))
        return (squad_from_rows(rows) if key == "squad" else hotpotqa_from_rows(rows)), prov
    for name in QA_FILES[task] if data_dir else ():
        path = Path(str(data_dir)).expanduser() / name
        if path.is_file():
            return read_json(path), {"source": f"file:{path}", "file_sha256": file_sha256(path)}
    names = " or ".join(QA_FILES[task])
    raise MissingDataError(
        f"RULER {task} needs {names} in benchmark.data_dir or data_dir=hf (got {data_dir!r})"
    )
