"""Test-only writers of run directories in the current results schema (no model, no runner).

The fixture generators (``tests/fixtures/*/make_fixtures.py``) and the tests use these, so fixture runs
look exactly like the runner's: ``results_dir/<model>/<benchmark>/<method>-<hash>/`` with ``config.yaml``,
``predictions.jsonl`` (:class:`SampleRecord` lines) and ``metrics.json`` (:func:`summarize_run`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from asl.harness.config import run_dir_for
from asl.methods.base import PruningMethod, Session
from asl.methods.registry import build_method, method_from_config
from asl.results.schema import SampleRecord, summarize_run


@dataclass(frozen=True, kw_only=True)
class DemoMethod(PruningMethod):
    """A method class that no table, figure or name list knows: it must show up by its own Display."""

    kv_budget: int
    stride: int

    display_name = "Demo"
    color = "#117733"
    marker = "*"
    order = 60

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        raise NotImplementedError("a table-and-figure fixture only")


def demo_config(kv_budget: int, stride: int = 1) -> dict[str, Any]:
    """The recorded config of a :class:`DemoMethod` run (``_target_`` names this test module)."""
    return DemoMethod(name="demo", kv_budget=kv_budget, stride=stride).to_config()


def method_config(name: str, num_layers: int, preset: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """The resolved config the runner records for ``configs/method/NAME.yaml`` with ``overrides``."""
    return build_method(name, **overrides).resolved(preset, num_layers).to_config()


def write_run(
    results_dir: str | Path,
    model: str,
    benchmark: str,
    family: str,
    method: Mapping[str, Any],
    records: list[SampleRecord],
    seed: int = 0,
    skipped: list[dict[str, Any]] | None = None,
) -> Path:
    """Write one run directory as the runner does and return it."""
    ident = {
        "model": model,
        "method": dict(method),
        "benchmark": {"name": benchmark, "family": family},
        "seed": seed,
        "generation": {},
    }
    run_dir = run_dir_for(results_dir, ident)
    run_dir.mkdir(parents=True)
    config = {"model": {"name": model}, "method": dict(method), "benchmark": ident["benchmark"], "seed": seed}
    (run_dir / "config.yaml").write_text(yaml.safe_dump({**config, "run_identity": ident}, sort_keys=False))
    lines = "".join(json.dumps(r.to_json(), sort_keys=True, separators=(",", ":")) + "\n" for r in records)
    (run_dir / "predictions.jsonl").write_text(lines)
    label = method_from_config(method).label
    summary_ident = {**ident, "family": family, "benchmark": benchmark, "method_label": label}
    summary_ident["run_hash"] = run_dir.name.rsplit("-", 1)[1]
    summary = summarize_run(summary_ident, records, len(records), skipped)
    (run_dir / "metrics.json").write_text(json.dumps(summary.to_json(), sort_keys=True) + "\n")
    return run_dir
