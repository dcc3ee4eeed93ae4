"""The record schema every writer and reader imports: per-sample records and run summaries."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from asl.results.stats import ScoreError, accuracy_estimate, check_scores, stratified_estimate

GIB = 1024**3
SCHEMA_VERSION = 4  # 4: t / MOVER intervals, accuracy_se; older summaries are recomputed on read


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
    selection_fired: bool | None = None  # the selection rule chose a layer; None: the method has no rule
    rel_variance: dict[str, float] = field(default_factory=dict)
    invocation_id: str | None = None  # the command invocation that timed this sample
    #: methods that shared this sample's prefill (0: its own prefill); a shared sample has no TTFT, TPOT or
    #: peak memory of its own (asl.engine.generate.generate_many)
    shared_prefill: int = 0

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
        if "selection_fired" not in kwargs:  # written before the flag existed: infer what can be inferred
            kwargs["selection_fired"] = legacy_fired(
                kwargs.get("selection_layer"), kwargs.get("rel_variance")
            )
        return cls(**kwargs)


def legacy_fired(selection_layer: Any, rel_variance: Any) -> bool | None:
    """A record without ``selection_fired``: a recorded layer counts as fired, a rule trace without a layer
    as never fired, neither as no rule (a two-pass fallback at the last layer cannot be told apart)."""
    if selection_layer is not None:
        return True
    return False if rel_variance else None


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
    accuracy_lo: float | None  # 95% interval (Wilson when every score is 0/1, else t), percent
    accuracy_hi: float | None
    ttft_s: float | None
    tpot_s: float | None
    peak_memory_gb: float | None
    kv_cache_gb: float | None
    prompt_tokens: float | None
    selection_fired: int  # samples where the selection rule chose a layer
    selection_layer_mean: float | None  # mean over those samples only
    selection_n: int = 0  # scored samples of a method with a selection rule (fired + never fired)
    accuracy_se: float | None = None  # standard error of the accuracy, points

    @property
    def n_scored(self) -> int:
        """Samples scored without an error."""
        return self.n - self.n_errors

    @classmethod
    def of(cls, task: str, context_length: int | None, records: list[SampleRecord]) -> CellSummary:
        """Aggregate ``records``."""
        ok = [r for r in records if r.ok]
        est = accuracy_estimate([r.score for r in ok])
        peak = _mean(r.peak_memory_bytes for r in ok)
        kv = _mean(r.kv_cache_bytes for r in ok)
        ruled = [r for r in ok if r.selection_fired is not None]
        fired = [r.selection_layer for r in ruled if r.selection_fired and r.selection_layer is not None]
        return cls(
            task=task,
            context_length=context_length,
            n=len(records),
            n_errors=len(records) - len(ok),
            accuracy=None if est is None else est.value,
            accuracy_lo=None if est is None else est.lo,
            accuracy_hi=None if est is None else est.hi,
            accuracy_se=None if est is None else est.se,
            ttft_s=_mean(r.ttft_s for r in ok),
            tpot_s=_mean(r.tpot_s for r in ok),
            peak_memory_gb=None if peak is None else peak / GIB,
            kv_cache_gb=None if kv is None else kv / GIB,
            prompt_tokens=_mean(r.prompt_tokens for r in ok),
            selection_fired=len(fired),
            selection_layer_mean=_mean(fired),
            selection_n=len(ruled),
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
    task_mean_lo: float | None = None  # its 95% interval (MOVER over the tasks' intervals)
    task_mean_hi: float | None = None
    skipped_tasks: list[dict[str, Any]] = field(default_factory=list)
    invocation_id: str | None = None  # the one invocation that timed every sample; None if several
    revision: int = 1  # 2, 3... for a recompute forced next to an earlier directory (run.force=true)
    # the run identity's model settings (dtype, path, device type, ...); empty for runs written before them
    settings: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``metrics.json``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        """Inverse of :meth:`to_json` (ValueError when it is not a current-schema summary)."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"metrics.json schema {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
        kwargs = {k: v for k, v in data.items() if k in {f.name for f in dataclasses.fields(cls)}}
        kwargs["cells"] = [CellSummary(**c) for c in data["cells"]]
        kwargs["tasks"] = [CellSummary(**c) for c in data["tasks"]]
        kwargs["overall"] = CellSummary(**data["overall"])
        return cls(**kwargs)

    @property
    def kv_budget(self) -> Any:
        """The method's KV budget (None for methods without one)."""
        return self.method.get("kv_budget")


def summary_identity(data: Mapping[str, Any]) -> dict[str, Any]:
    """The identity of a ``metrics.json`` of any schema version (to recompute it from its records)."""
    keys = (
        "model",
        "benchmark",
        "family",
        "method",
        "method_label",
        "seed",
        "run_hash",
        "revision",
        "settings",
    )
    missing = [k for k in keys[:-2] if k not in data]
    if missing:
        version = data.get("schema_version")
        raise ValueError(f"metrics.json of schema {version!r} lacks {', '.join(missing)}: recompute the run")
    return {k: data.get(k) for k in keys}


def check_records(records: list[SampleRecord], where: str) -> None:
    """ScoreError (one line naming ``where`` and the sample) for a scored record whose score is not a
    finite number in [0, 1]."""
    for rec in records:
        if rec.ok:
            try:
                check_scores([rec.score], f"{where}, sample {rec.key}")
            except ScoreError as err:
                raise ScoreError(str(err).replace(" of sample 0", "")) from None


def summarize_run(
    identity: Mapping[str, Any],
    records: list[SampleRecord],
    n_expected: int,
    skipped: list[dict] | None = None,
) -> RunSummary:
    """The run summary of ``records`` (in example order); ``identity`` holds model, benchmark, family,
    method (resolved config), method_label, seed, run_hash and optionally revision."""
    cells: dict[tuple[str, int | None], list[SampleRecord]] = {}
    by_task: dict[str, list[SampleRecord]] = {}
    check_records(records, f"run {identity.get('run_hash')}")
    for rec in records:
        cells.setdefault((rec.task, rec.context_length), []).append(rec)
        by_task.setdefault(rec.task, []).append(rec)
    cell_rows = [
        CellSummary.of(task, length, recs)
        for (task, length), recs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ]
    task_rows = [CellSummary.of(task, None, recs) for task, recs in sorted(by_task.items())]
    scored = {task: [r.score for r in recs if r.ok] for task, recs in by_task.items()}
    scored = {task: scores for task, scores in scored.items() if scores}
    mean = stratified_estimate(scored) if scored else None
    invocations = {r.invocation_id for r in records}
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
        task_mean=None if mean is None else mean.value,
        task_mean_lo=None if mean is None else mean.lo,
        task_mean_hi=None if mean is None else mean.hi,
        skipped_tasks=list(skipped or []),
        invocation_id=invocations.pop() if len(invocations) == 1 else None,
        revision=int(identity.get("revision") or 1),
        settings=dict(identity.get("settings") or {}),
    )
