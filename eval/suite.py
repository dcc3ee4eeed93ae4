"""Benchmark suites: turn a ``benchmark`` config node into Examples (docs/interfaces.md).

Runner hand-off: :func:`load_examples` (missing data raises MissingDataError, a BenchmarkError, unless
``benchmark.allow_missing=true``; then the skipped tasks are appended to ``skipped``) and
:func:`describe_run` (data sources and Hub revisions, subset draws, task coverage such as "11 of 13 tasks")
for the run metadata, metrics and tables.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval import registry
from eval.errors import BenchmarkError, MissingDataError, SkippedTask
from eval.infinitebench import loader as ib_loader
from eval.infinitebench.tasks import canonical_task
from eval.prompts import PROFILES
from eval.schema import Example

FAMILIES = ("infinitebench", "ruler", "niah", "mixed")  # mixed: tasks are "family/task"
PROVENANCE_KEYS = ("source", "revision", "split", "file_sha256", "haystack", "haystack_sha256",
                   "haystack_revision", "haystack_fallback_for", "pool_capped")  # fmt: skip


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [value]
    return list(value)


def _lengths(cfg: Mapping[str, Any], task: str) -> list[int]:
    per_task = cfg.get("task_context_length") or {}
    lengths = _as_list(per_task.get(task, cfg.get("context_length")))
    if any(int(x) < 1 for x in lengths):
        raise BenchmarkError(f"context_length must be positive integers, got {lengths}")
    return [int(x) for x in lengths]


def _num(cfg: Mapping[str, Any], task: str) -> int | None:
    """num_samples, optionally overridden per task by ``task_num_samples``."""
    n = (cfg.get("task_num_samples") or {}).get(task, cfg.get("num_samples"))
    if n is not None and int(n) < 1:
        raise BenchmarkError(f"num_samples must be >= 1, got {n}")
    return None if n is None else int(n)


def _cap(examples: list[Example], cfg: Mapping[str, Any]) -> list[Example]:
    """Apply the optional max_new_tokens cap (int or task->int) and the prompt truncation limit."""
    cap = cfg.get("max_new_tokens")
    for ex in examples:
        ex.meta["max_new_tokens_official"] = ex.max_new_tokens  # the profile's budget, before the cap
        limit = cap.get(ex.task) if isinstance(cap, Mapping) else cap
        if limit is not None:
            ex.max_new_tokens = min(ex.max_new_tokens, int(limit))
        total = cfg.get("truncate_to") or ex.meta.get("length")
        ex.meta["truncate_to"] = total
        ex.meta["max_prompt_tokens"] = None if total is None else max(2, int(total) - _reserve(ex, cfg))
        ex.meta.setdefault("profile", cfg.get("profile", "chat"))
        if cfg.get("reference_scoring"):
            ex.meta["reference_scoring"] = True
    return examples


def _reserve(ex: Example, cfg: Mapping[str, Any]) -> int:
    """Tokens kept free for generation below the truncation length: none for InfiniteBench's ``official``
    profile (the official code truncates the raw prompt to L), the generation budget otherwise."""
    official = cfg.get("profile", "chat") == "official" and ex.benchmark == "infinitebench"
    return 0 if official else ex.max_new_tokens


def _infinitebench(
    cfg: Mapping[str, Any], task: str, tokenizer: Any, seed: int, profile: str
) -> list[Example]:
    data_dir, n = cfg.get("data_dir"), _num(cfg, task)
    family = "reference" if profile == "reference" else "official"
    spec = registry.spec("infinitebench", task)
    if data_dir and spec.data != "none":
        examples = ib_loader.load_task(task, data_dir, n, seed, family, cfg.get("data_revision"))
        length = (_lengths(cfg, task) or [None])[0]
        for ex in examples:
            ex.meta["length"] = length
            if task == "math_calc" and length and ex.max_new_tokens >= length:
                ex.max_new_tokens = 500  # [ref] run_infinitebench.py
        return examples
    if spec.generate is None:
        raise MissingDataError(
            f"InfiniteBench task {task!r} needs real data: set benchmark.data_dir to the folder of official "
            "JSONL files, or to 'hf' for the Hugging Face Hub"
        )
    # "every record" of a file that is not there: never 1 generated sample
    if n is None and spec.data != "none":
        raise MissingDataError(
            f"InfiniteBench task {task!r}: no data folder and no sample count: set benchmark.data_dir to the "
            "official JSONL folder (or hf), or benchmark.num_samples=N to generate N samples"
        )
    lengths = _lengths(cfg, task)
    if not lengths:
        raise BenchmarkError(f"generated InfiniteBench task {task!r} needs benchmark.context_length")
    return _generated("infinitebench", cfg, task, tokenizer, seed, profile)


def _generated(
    family: str, cfg: Mapping[str, Any], task: str, tokenizer: Any, seed: int, profile: str
) -> list[Example]:
    """The registered generator of ``family/task`` at every configured length."""
    request = registry.TaskRequest(task, tokenizer, tuple(_lengths(cfg, task)), _num(cfg, task) or 1, seed, profile,
                                   cfg.get("haystack"), cfg.get("data_dir"), cfg.get("data_revision"), cfg)  # fmt: skip
    return registry.generate(family, request)


def _split(family: str, entry: str) -> tuple[str, str]:
    """(family, task) for a task entry; a ``mixed`` suite names tasks as "family/task"."""
    if family != "mixed":
        return family, entry
    fam, sep, task = str(entry).partition("/")
    if not sep or fam not in FAMILIES[:3]:
        raise BenchmarkError(
            f"mixed suite task {entry!r} must be family/task with family in {', '.join(FAMILIES[:3])}"
        )
    return fam, task


def validate(cfg: Mapping[str, Any]) -> None:
    """Raise BenchmarkError for an invalid benchmark node (family, tasks, num_samples, profile, allow_missing)."""
    family = cfg.get("family")
    if family not in FAMILIES:
        raise BenchmarkError(f"unknown benchmark family {family!r}; choose one of: {', '.join(FAMILIES)}")
    n = cfg.get("num_samples")
    if n is not None and int(n) < 1:
        raise BenchmarkError(f"num_samples must be >= 1, got {n}")
    if cfg.get("profile", "chat") not in PROFILES:
        raise BenchmarkError(
            f"unknown prompt profile {cfg.get('profile')!r}; choose one of: {', '.join(PROFILES)}"
        )
    if cfg.get("reference_scoring") and cfg.get("profile") != "reference":
        raise BenchmarkError(
            f"benchmark.reference_scoring applies only to profile=reference, got profile {cfg.get('profile')!r}"
        )
    if not isinstance(cfg.get("allow_missing", False), bool):
        raise BenchmarkError(
            f"benchmark.allow_missing must be true or false, got {cfg.get('allow_missing')!r}"
        )
    tasks = _as_list(cfg.get("tasks"))
    if not tasks:
        raise BenchmarkError("benchmark.tasks is empty")
    for entry in tasks:
        fam, task = _split(family, entry)
        registry.spec(fam, canonical_task(task) if fam == "infinitebench" else task)


def check_data(benchmark_cfg: Mapping[str, Any]) -> None:
    """What can be checked about a benchmark's data without a tokenizer, so that it fails before a model
    loads: a ``data_dir`` that is not a folder, local InfiniteBench files (fields, empty, Git LFS pointers;
    BenchmarkError naming file and line), and tasks whose data is absent (MissingDataError, unless
    ``benchmark.allow_missing``)."""
    from eval.datasources import QA_FILES, infinitebench_records, is_hub

    cfg = dict(benchmark_cfg)
    validate(cfg)
    data_dir = cfg.get("data_dir")
    if data_dir and not is_hub(data_dir) and not Path(str(data_dir)).expanduser().is_dir():
        raise MissingDataError(f"benchmark.data_dir: no such directory: {data_dir}")
    if cfg.get("allow_missing", False):
        return
    for entry in _as_list(cfg["tasks"]):
        family, task = _split(cfg["family"], entry)
        if family == "infinitebench" and data_dir and not is_hub(data_dir):
            task = canonical_task(task)
            if registry.spec(family, task).data != "none":  # fields, empty files, LFS pointers: one line
                infinitebench_records(task, data_dir, cfg.get("data_revision"))
            continue
        if family != "infinitebench" or data_dir:
            if registry.spec(family, task).data == "required" and not data_dir:
                files = " or ".join(QA_FILES.get(task, ("its data files",)))
                raise MissingDataError(f"RULER {task} needs {files}: set benchmark.data_dir (or hf)")
            continue
        task = canonical_task(task)
        spec = registry.spec(family, task)
        if spec.generate is None:
            raise MissingDataError(
                f"InfiniteBench task {task!r} needs real data: set benchmark.data_dir to the folder of "
                "official JSONL files, or to 'hf' for the Hugging Face Hub"
            )
        if _num(cfg, task) is None and spec.data != "none":
            raise MissingDataError(
                f"InfiniteBench task {task!r}: no data folder and no sample count: set benchmark.data_dir to "
                "the official JSONL folder (or hf), or benchmark.num_samples=N to generate N samples"
            )


def load_examples(
    benchmark_cfg: Mapping[str, Any], tokenizer: Any, seed: int, skipped: list[SkippedTask] | None = None
) -> list[Example]:
    """Examples for a ``benchmark`` node.

    A task whose data is absent raises MissingDataError (exit 2 through the runner) unless
    ``benchmark.allow_missing`` is true; then it is appended to ``skipped`` (and warned about). Every example
    carries ``meta.max_prompt_tokens`` (pass it to build_prompt_ids) and ``meta.profile``.
    """
    cfg = dict(benchmark_cfg)
    validate(cfg)
    skipped = [] if skipped is None else skipped
    profile = cfg.get("profile", "chat")
    out: list[Example] = []
    for entry in _as_list(cfg["tasks"]):
        family, task = _split(cfg["family"], entry)
        task = canonical_task(task) if family == "infinitebench" else task
        try:
            out += (
                _infinitebench(cfg, task, tokenizer, seed, profile)
                if family == "infinitebench"
                else _generated(family, cfg, task, tokenizer, seed, profile)
            )
        except MissingDataError as err:
            if not cfg.get("allow_missing", False):
                raise
            skip = SkippedTask(family, task, str(err))
            skipped.append(skip)
            warnings.warn(str(skip), stacklevel=2)
    for ex in out:
        ex.meta["suite"] = cfg.get("name")
    return _cap(out, cfg)


def coverage(benchmark_cfg: Mapping[str, Any], skipped: list[SkippedTask]) -> dict[str, Any]:
    """Requested vs run tasks, e.g. {"requested": 13, "run": 11, "label": "11 of 13 tasks", ...}."""
    requested = [str(t) for t in _as_list(benchmark_cfg.get("tasks"))]
    gone = {s.task for s in skipped} | {f"{s.benchmark}/{s.task}" for s in skipped}
    run = [t for t in requested if t not in gone and t.partition("/")[2] not in gone]
    return {"requested": len(requested), "run": len(run), "tasks_run": run,
            "skipped": [s.to_dict() for s in skipped], "label": f"{len(run)} of {len(requested)} tasks"}  # fmt: skip


def describe_run(
    benchmark_cfg: Mapping[str, Any], examples: list[Example], skipped: list[SkippedTask] | None = None
) -> dict[str, Any]:
    """What the run metadata should record: profile, per-task data provenance (source, Hub revision, file
    hash, haystack and whether it is the offline fallback), subset draws, and task coverage."""
    data: dict[str, dict[str, Any]] = {}
    subsets: dict[str, dict[str, Any]] = {}
    for ex in examples:
        key = f"{ex.benchmark}/{ex.task}"
        data.setdefault(key, {k: ex.meta[k] for k in PROVENANCE_KEYS if k in ex.meta})
        sub = ex.meta.get("subset")
        if sub:
            entry = subsets.setdefault(key, {k: v for k, v in sub.items() if k != "stratum"} | {"strata": []})
            if "stratum" in sub:
                entry["strata"].append(sub["stratum"])
    return {"profile": benchmark_cfg.get("profile", "chat"), "data": data, "subsets": subsets,
            "reference_scoring": bool(benchmark_cfg.get("reference_scoring", False)),
            "coverage": coverage(benchmark_cfg, list(skipped or []))}  # fmt: skip
