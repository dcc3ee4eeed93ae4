"""The task registry (eval/registry.py): one registration per task, and every task list derives from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eval import registry, suite
from eval.errors import BenchmarkError
from eval.infinitebench.tasks import TEMPLATES as IB_TEMPLATES
from eval.infinitebench.tasks import canonical_task
from eval.ruler import tasks as ruler_tasks
from eval.ruler.common import template_keys
from eval.scoring import SCORERS
from eval.templates import load

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "benchmark"
# The upstream task sets (benchmarks.md §1, §2.1, §3): adding a harness task must never change these.
RULER_13 = {"niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
            "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa_1", "qa_2"}  # fmt: skip


def _template_keys(family: str) -> set[str]:
    if family == "ruler":
        return set(template_keys())
    return set(IB_TEMPLATES) if family == "infinitebench" else {"asl", "kv"}


@pytest.mark.parametrize("name", sorted(registry.tasks()))
def test_every_task_has_its_template_metric_and_budget(name):
    spec = registry.tasks()[name]
    assert spec.template in _template_keys(spec.family), f"{name}: no template entry {spec.template!r}"
    assert spec.metric in SCORERS, f"{name}: unknown metric {spec.metric!r}"
    assert spec.max_new_tokens and spec.max_new_tokens > 0
    assert spec.generate is not None or spec.data == "required"


def test_upstream_sets_are_pinned_and_local_tasks_stay_out():
    assert set(registry.names("ruler", upstream=True)) == RULER_13
    assert set(registry.names("infinitebench", upstream=True)) == set(load("infinitebench")["templates"])
    assert set(registry.names("niah", upstream=True)) == {"niah_asl", "niah_kv"}
    local = [s.name for s in registry.tasks().values() if not s.upstream]
    assert "infinitebench/kv_retrieval_short" in local
    assert set(ruler_tasks.TASKS) == RULER_13 | {t.partition("/")[2] for t in local if t.startswith("ruler/")}
    assert ruler_tasks.REAL_DATA_TASKS == ("qa_1", "qa_2")


def test_lookups_fail_with_the_choices():
    with pytest.raises(BenchmarkError, match="unknown RULER task 'nope'; choose one of: .*niah_multiquery"):
        ruler_tasks.check_task("nope")
    with pytest.raises(BenchmarkError, match="unknown InfiniteBench task 'nope'; choose one of: passkey"):
        canonical_task("nope")
    with pytest.raises(BenchmarkError, match="unknown NIAH task 'nope'; choose one of: niah_asl, niah_kv"):
        suite.validate({"family": "niah", "tasks": ["nope"]})
    with pytest.raises(BenchmarkError, match="has no generator"):
        registry.generate("infinitebench", registry.TaskRequest("code_debug", None, (1024,), 1, 0))


def test_register_task_rejects_bad_registrations(monkeypatch):
    monkeypatch.setattr(registry, "_TASKS", dict(registry.tasks()))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_task("ruler/vt", template="variable_tracking", metric="string_match_all")(len)
    with pytest.raises(ValueError, match="must be family/task"):
        registry.register_task("vt", template="x", metric="string_match_all")
    with pytest.raises(ValueError, match="without a generator must have data='required'"):
        registry.register_task("ruler/x", template="x", metric="string_match_all")(None)
    with pytest.raises(ValueError, match="data must be one of"):
        registry.register_task("ruler/x", template="x", metric="string_match_all", data="maybe")
    registry.register_task("ruler/extra", template="niah", metric="string_match_all", max_new_tokens=8)(len)
    assert "extra" in ruler_tasks.TASKS and "extra" not in registry.names("ruler", upstream=True)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_benchmark_configs_name_registered_tasks(path):
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    suite.validate(cfg)  # every task of every suite resolves through the registry
    if cfg["family"] != "mixed":
        assert all(f"{cfg['family']}/{canonical_task(t) if cfg['family'] == 'infinitebench' else t}"
                   in registry.tasks() for t in cfg["tasks"])  # fmt: skip
