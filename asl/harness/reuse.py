"""Reuse of finished samples across runs that differ only in ``num_samples``.

``benchmark.num_samples`` (and ``task_num_samples``) stay in the run identity, so growing a run from 5 to
12 samples gets a new directory. Since the benchmarks' subsets are nested (sample i does not depend on
the sample count, ``eval/subsets.py``), a fresh run first imports the error-free records of its sibling
directories (same model, benchmark and method folder) whose recorded ``run_identity`` equals its own but
for the sample counts, for the samples it would compute itself. A record is imported only when the
example it was computed from is the same (answers, budget, metadata), and it then takes this run's
example fields (e.g. ``meta.subset.k``), so it reads exactly as a record computed here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from asl.results.schema import SampleRecord
from asl.results.shardfiles import read_run_records

#: benchmark keys that only say how many samples a run takes (nested subsets: never which ones)
COUNT_KEYS = ("num_samples", "task_num_samples")
#: record fields an example determines (compared before a record is reused, then taken from the example)
EXAMPLE_FIELDS = ("benchmark", "answers", "metric", "options", "max_new_tokens", "meta")


def _plain(data: Any) -> Any:
    """JSON-normal form (tuples as lists, keys as strings) for comparisons."""
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def without_counts(ident: dict[str, Any]) -> dict[str, Any]:
    """The run identity less the sample counts."""
    out = _plain(ident)
    for key in COUNT_KEYS:
        (out.get("benchmark") or {}).pop(key, None)
    return out


def recorded_identity(run_dir: Path) -> dict[str, Any] | None:
    """The ``run_identity`` in a run directory's config.yaml (None when missing or unreadable)."""
    try:
        data = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=False)
    except Exception:  # noqa: BLE001 - an unreadable sibling is not a source
        return None
    ident = data.get("run_identity") if isinstance(data, dict) else None
    return ident if isinstance(ident, dict) else None


def sibling_runs(run_dir: Path, ident: dict[str, Any]) -> list[Path]:
    """Directories next to ``run_dir`` of the same method whose identity differs from ``ident`` only in
    the sample counts (sorted by name)."""
    mine, base = _plain(ident), without_counts(ident)
    prefix = f"{ident['method']['name']}-"
    out = []
    for path in sorted(run_dir.parent.glob(f"{prefix}*")) if run_dir.parent.is_dir() else []:
        if path == run_dir or not path.is_dir():
            continue
        other = recorded_identity(path)
        if other is not None and _plain(other) != mine and without_counts(other) == base:
            out.append(path)
    return out


def _comparable_meta(meta: Any) -> Any:
    meta = copy.deepcopy(_plain(meta or {}))
    meta.pop("template", None)
    if isinstance(meta.get("subset"), dict):
        meta["subset"].pop("k", None)  # the draw's size, not the sample
    return meta


def example_fields(example: Any) -> dict[str, Any]:
    """The record fields ``example`` determines, as the runner writes them."""
    data = example.to_dict()
    out = {k: data.get(k) for k in EXAMPLE_FIELDS}
    out["meta"] = {k: v for k, v in (data.get("meta") or {}).items() if k != "template"}
    out["max_new_tokens"] = int(data.get("max_new_tokens") or 32)
    return out


def same_example(record: SampleRecord, fields: dict[str, Any]) -> bool:
    """Whether ``record`` was computed from the example whose fields are ``fields``."""
    old = record.to_json()
    for key in EXAMPLE_FIELDS:
        a, b = (old.get(key), fields.get(key)) if key != "meta" else (old.get("meta"), fields["meta"])
        if key == "meta":
            a, b = _comparable_meta(a), _comparable_meta(b)
        if _plain(a) != _plain(b):
            return False
    return True


def reusable_records(
    run_dir: Path, ident: dict[str, Any], examples: Sequence[Any], key: Callable[[Any], str]
) -> tuple[list[SampleRecord], list[list[Any]]]:
    """(records to import, in example order; ``[[sibling dir, count], ...]``) for ``examples``: the first
    sibling holding an error-free record of the same example provides it."""
    wanted = {key(ex): ex for ex in examples}
    found: dict[str, SampleRecord] = {}
    sources: list[list[Any]] = []
    for sibling in sibling_runs(run_dir, ident):
        count = 0
        for rec in read_run_records(sibling):
            ex = wanted.get(rec.key)
            if ex is None or rec.key in found or rec.error or rec.score is None:
                continue
            fields = example_fields(ex)
            if same_example(rec, fields):
                found[rec.key] = SampleRecord.from_json({**rec.to_json(), **fields})
                count += 1
        if count:
            sources.append([str(sibling), count])
    return [found[k] for k in wanted if k in found], sources


def reuse_into(
    store: Any, run_dir: Path, ident: dict[str, Any], examples: Sequence[Any], key: Callable[[Any], str]
) -> tuple[dict[str, SampleRecord], list[list[Any]]]:
    """Append the reusable records of ``examples`` to ``store`` and say how many (one line on stderr);
    returns them by sample key and their sources (for run_meta.json's ``reused_from``)."""
    import sys

    records, sources = reusable_records(run_dir, ident, examples, key)
    store.extend(records)
    if records:
        names = ", ".join(f"{Path(d).name} ({n})" for d, n in sources)
        print(f"reused {len(records)} of {len(examples)} samples from {names}", file=sys.stderr)
    return {r.key: r for r in records}, sources
