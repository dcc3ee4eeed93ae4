"""Shared-prefill runs in the harness: job grouping, one directory per method, resume, interruption."""

from __future__ import annotations

import json

import pytest

from asl.harness.experiment import run
from asl.harness.shared_run import run_shared
from asl.harness.sharing import SHARE_KEY, group_jobs, member_jobs
from asl.results.store import read_records
from tests.runner_fakes import FakeBackend, make_cfg

TIMING = ("ttft_s", "tpot_s", "peak_memory_bytes", "peak_memory_kind", "invocation_id", "shared_prefill")


def _records(run_dir):
    return [{k: v for k, v in r.to_json().items() if k not in TIMING} for r in read_records(run_dir / "predictions.jsonl")]  # fmt: skip


def _cfgs(tmp_path, methods, *extra):
    return [make_cfg(f"results_dir={tmp_path}", f"method={m}", *extra) for m in methods]


# -- grouping (pure) ---------------------------------------------------------------------------------
def test_jobs_differing_only_in_method_keys_form_one_job():
    jobs = [["method=fullkv", "++method_overrides.tau=0.3", "seed=0"],
            ["method=asl", "++method_overrides.tau=0.3", "seed=0"],
            ["method=asl", "++method_overrides.tau=0.5", "seed=0"],
            ["method=asl", "++method_overrides.tau=0.3", "seed=1"]]  # fmt: skip
    grouped = group_jobs(jobs)
    assert len(grouped) == 2  # seed 0's three methods share; seed 1's single job stays as it was
    assert grouped[1] == ["seed=1", "method=asl", "++method_overrides.tau=0.3"]
    share = [o for o in grouped[0] if o.startswith(SHARE_KEY)]
    assert share == [f"{SHARE_KEY}=[['method=fullkv','++method_overrides.tau=0.3'],"
                     "['method=asl','++method_overrides.tau=0.3'],['method=asl','++method_overrides.tau=0.5']]"]  # fmt: skip
    members = [["method=fullkv", "++method_overrides.tau=0.3"], ["method=asl", "method.window=8"]]
    assert member_jobs(grouped[0], members) == [["seed=0", *members[0]], ["seed=0", *members[1]]]


def test_other_axes_and_unquotable_values_stay_separate():
    models = [["model=a", "method=fullkv"], ["model=b", "method=fullkv"]]
    assert group_jobs(models) == models
    quoted = [["method=asl", "method.note='x'"], ["method=fullkv"]]
    assert group_jobs(quoted) == quoted


# -- the runner on the fake backend --------------------------------------------------------------------
def test_shared_run_writes_what_separate_runs_write(tmp_path):
    methods = ["fullkv", "snapkv", "asl"]
    sep_backend, shr_backend = FakeBackend(), FakeBackend()
    separate = [run(c, backend=sep_backend.backend()) for c in _cfgs(tmp_path / "sep", methods)]
    shared = run_shared(_cfgs(tmp_path / "shr", methods), [set()] * 3, backend=shr_backend.backend())
    assert [d.name for d in shared] == [d.name for d in separate]  # same identity hash
    for a, b in zip(separate, shared, strict=True):
        assert _records(a) == _records(b)
        recs = list(read_records(b / "predictions.jsonl"))
        assert all(r.shared_prefill == 3 and r.ttft_s is None and r.peak_memory_bytes is None for r in recs)
        meta = json.loads((b / "run_meta.json").read_text())
        assert meta["status"] == "complete" and (b / "metrics.json").is_file()
    assert len(shr_backend.shared_calls) == 6 and all(len(m) == 3 for _, m in shr_backend.shared_calls)


def test_duplicate_members_run_once_and_finished_ones_are_left_alone(tmp_path):
    backend = FakeBackend()
    done = run(_cfgs(tmp_path, ["snapkv"])[0], backend=backend.backend())
    before = (done / "predictions.jsonl").read_bytes()
    cfgs = _cfgs(tmp_path, ["fullkv", "snapkv", "fullkv"])
    dirs = run_shared(cfgs, [set()] * 3, backend=backend.backend())
    assert len(dirs) == 3 and dirs[0] == dirs[2] and (done / "predictions.jsonl").read_bytes() == before
    assert backend.shared_calls == []  # one pending run: it ran alone, timed as a separate run would be
    assert all(r.ttft_s is not None for r in read_records(dirs[0] / "predictions.jsonl"))


def test_interrupted_shared_run_resumes_per_method(tmp_path):
    methods = ["fullkv", "snapkv"]
    backend = FakeBackend(interrupt_ids=("2",))
    with pytest.raises(KeyboardInterrupt):
        run_shared(_cfgs(tmp_path / "shr", methods), [set()] * 2, backend=backend.backend())
    dirs = sorted((tmp_path / "shr").glob("*/fake/*-*"))
    assert len(dirs) == 2
    for d in dirs:
        assert json.loads((d / "run_meta.json").read_text())["status"] == "interrupted"
        assert len(list(read_records(d / "predictions.jsonl"))) == 2  # passkey 0, 1 done; 2 interrupted
    again = FakeBackend()
    resumed = run_shared(_cfgs(tmp_path / "shr", methods), [set()] * 2, backend=again.backend())
    assert [c for c, _ in again.shared_calls] == ["2", "0", "1", "2"]  # only the samples not yet done
    fresh = run_shared(_cfgs(tmp_path / "fresh", methods), [set()] * 2, backend=FakeBackend().backend())
    for a, b in zip(resumed, fresh, strict=True):
        assert sorted(map(str, _records(a))) == sorted(map(str, _records(b)))
        assert json.loads((a / "run_meta.json").read_text())["attempts"] == 2


def test_a_failing_shared_call_falls_back_to_each_method_alone(tmp_path):
    backend = FakeBackend(fail_ids=("1",))
    dirs = run_shared(_cfgs(tmp_path, ["fullkv", "snapkv"]), [set()] * 2, backend=backend.backend())
    for d in dirs:
        errors = {r.id: r.error for r in read_records(d / "predictions.jsonl") if r.error}
        assert set(errors) == {"1"} and "out of memory" in errors["1"]  # each method recorded its own error


def test_a_group_whose_runs_are_all_complete_recomputes_nothing(tmp_path):
    methods = ["fullkv", "snapkv"]
    first = run_shared(_cfgs(tmp_path, methods), [set()] * 2, backend=FakeBackend().backend())
    before = [(d / "predictions.jsonl").read_bytes() for d in first]
    again = FakeBackend()
    assert run_shared(_cfgs(tmp_path, methods), [set()] * 2, backend=again.backend()) == first
    assert again.calls == [] and [(d / "predictions.jsonl").read_bytes() for d in first] == before


def test_members_share_one_sample_generation(tmp_path):
    backend = FakeBackend()
    loads = []
    real = backend.load_examples
    backend.load_examples = lambda *a, **k: loads.append(1) or real(*a, **k)
    run_shared(_cfgs(tmp_path, ["fullkv", "snapkv", "asl"]), [set()] * 3, backend=backend.backend())
    assert len(loads) == 1
