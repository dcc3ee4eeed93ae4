"""The record schema every writer and reader imports: per-sample records and run summaries."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

GIB = 1024**3
SCHEMA_VERSION = 2


@dataclass
class SampleRecord:
    """One finished (or failed) sample: the example, the prediction, its score and what the engine measured."""

    id: str
    task: str
    benchmark: str = ""
    context_length: int | None = None
    prediction: str = ""
    answers: list[Any] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    metric: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    max_new_tokens: int | None = None
    generated_tokens: int | None = None
    truncation: dict[str, Any] = field(default_factory=dict)
    ttft_s: float | None = None
    tpot_s: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_kind: str | None = None
    kv_cache_bytes: int | None = None
    kv_lengths: list[int] = field(default_factory=list)
    selection_layer: int | None = None
    rel_variance: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identity of the sample inside a run (and across runs of the same benchmark: pairing)."""
        return sample_key(self.task, self.context_length, self.id)

    @property
    def ok(self) -> bool:
        """Scored without an error."""
        return not self.error and self.score is not None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for one JSON line."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SampleRecord:
        """Inverse of :meth:`to_json`; unknown keys are ignored, missing ones take their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["id"] = str(kwargs.get("id", ""))
        kwargs["task"] = str(kwargs.get("task", ""))
        return cls(**kwargs)


def sample_key(task: Any, context_length: Any, sample_id: Any) -> str:
    """``task|context_length|id``."""
    return f"{task}|{context_length}|{sample_id}"


def _mean(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    vals = [v for v in vals if not math.isnan(v)]
    return fmean(vals) if vals else None


@dataclass
class CellSummary:
    """Aggregates over the samples of one task at one context length (or a whole run: task ``*``)."""

    task: str
    context_length: int | None
    n: int
    n_errors: int
    accuracy: float | None  # percent over scored samples
    ttft_s: float | None
    tpot_s: float | None
    peak_memory_gb: float | None
    kv_cache_gb: float | None
    prompt_tokens: float | None
    selection_fired: int  # samples where a selection layer was chosen
    selection_layer_mean: float | None  # mean over those samples only

    @classmethod
    def of(cls, task: str, context_length: int | None, records: list[SampleRecord]) -> CellSummary:
        """Aggregate ``records``."""
        ok = [r for r in records if not r.error]
        acc = _mean(r.score for r in ok)
        peak = _mean(r.peak_memory_bytes for r in ok)
        kv = _mean(r.kv_cache_bytes for r in ok)
        fired = [r.selection_layer for r in ok if r.selection_layer is not None]
        return cls(
            task=task,
            context_length=context_length,
            n=len(records),
            n_errors=len(records) - len(ok),
            accuracy=None if acc is None else 100.0 * acc,
            ttft_s=_mean(r.ttft_s for r in ok),
            tpot_s=_mean(r.tpot_s for r in ok),
            peak_memory_gb=None if peak is None else peak / GIB,
            kv_cache_gb=None if kv is None else kv / GIB,
            prompt_tokens=_mean(r.prompt_tokens for r in ok),
            selection_fired=len(fired),
            selection_layer_mean=_mean(fired),
        )


@dataclass
class RunSummary:
    """``metrics.json``: who the run is (model, benchmark, resolved method, seed, hash) and its aggregates."""

    model: str
    benchmark: str
    family: str
    method: dict[str, Any]  # resolved method config (``_target_`` + hyper-parameters)
    method_label: str
    seed: int
    run_hash: str
    complete: bool
    n_expected: int
    cells: list[CellSummary]  # one per (task, context length)
    tasks: list[CellSummary]  # one per task (all lengths)
    overall: CellSummary
    task_mean: float | None  # unweighted mean of the task accuracies (the paper's "Avg.")
    skipped_tasks: list[dict[str, Any]] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``metrics.json``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        """Inverse of :meth:`to_json` (ValueError when it is not a current-schema summary)."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"metrics.json schema {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
        kwargs = dict(data)
        kwargs["cells"] = [CellSummary(**c) for c in data["cells"]]
        kwargs["tasks"] = [CellSummary(**c) for c in data["tasks"]]
        kwargs["overall"] = CellSummary(**data["overall"])
        return cls(**kwargs)

    @property
    def kv_budget(self) -> Any:
        """The method's KV budget (None for methods without one)."""
        return self.method.get("kv_budget")


def summarize_run(
    identity: Mapping[str, Any], records: list[SampleRecord], n_expected: int, skipped: list[dict] | None = None
) -> RunSummary:
    """The run summary of ``records`` (in example order); ``identity`` holds model, benchmark, family,
    method (resolved config), method_label, seed and run_hash."""
    cells: dict[tuple[str, int | None], list[SampleRecord]] = {}
    by_task: dict[str, list[SampleRecord]] = {}
    for rec in records:
        cells.setdefault((rec.task, rec.context_length), []).append(rec)
        by_task.setdefault(rec.task, []).append(rec)
    cell_rows = [
        CellSummary.of(task, length, recs)
        for (task, length), recs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ]
    task_rows = [CellSummary.of(task, None, recs) for task, recs in sorted(by_task.items())]
    return RunSummary(
        model=str(identity["model"]),
        benchmark=str(identity["benchmark"]),
        family=str(identity.get("family") or identity["benchmark"]),
        method=dict(identity["method"]),
        method_label=str(identity["method_label"]),
        seed=int(identity["seed"]),
        run_hash=str(identity["run_hash"]),
        complete=len(records) >= n_expected,
        n_expected=n_expected,
        cells=cell_rows,
        tasks=task_rows,
        overall=CellSummary.of("*", None, records),
        task_mean=_mean(t.accuracy for t in task_rows),
        skipped_tasks=list(skipped or []),
    )
