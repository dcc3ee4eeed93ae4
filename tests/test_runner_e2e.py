"""End to end on the embedded SmolLM2-135M: every method, determinism, kill + resume, submitit_local."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from asl.harness.experiment import run
from asl.methods import method_from_config
from asl.results.store import read_records
from tests.methods_under_test import METHODS as UNDER_TEST
from tests.runner_fakes import ROOT, make_cfg

pytestmark = pytest.mark.embedded
METHODS = sorted(UNDER_TEST)


def read_jsonl(path):
    return [r.to_json() for r in read_records(path)]


SMALL = ["benchmark=infinitebench", "benchmark.tasks=[passkey]", "benchmark.context_length=512",
         "+method_overrides.kv_budget=128", "run.progress=false"]  # fmt: skip
FIELDS = ["id", "task", "context_length", "prompt_tokens", "prediction", "answers", "score", "ttft_s", "tpot_s",
          "peak_memory_bytes", "kv_cache_bytes", "selection_layer", "rel_variance", "error"]  # fmt: skip


def cli(tmp_path, *args, **kw):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["HF_HUB_OFFLINE"] = "1"
    flags = [a for a in args if a.startswith("-")]  # Hydra's flags must precede the overrides
    overrides = [a for a in args if not a.startswith("-")]
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "run.py"),
        *flags,
        *SMALL,
        "logger.wandb.mode=disabled",
        *overrides,
    ]
    return subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


@pytest.fixture(scope="module")
def all_methods(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e")
    dirs = {
        m: run(make_cfg(f"results_dir={out}", f"method={m}", "benchmark.num_samples=2", *SMALL))
        for m in METHODS
    }
    return out, dirs


@pytest.mark.parametrize("method", METHODS)
def test_each_method_files_and_fields(all_methods, method):
    _, dirs = all_methods
    recs = read_jsonl(dirs[method] / "predictions.jsonl")
    assert len(recs) == 2
    for rec in recs:
        assert all(f in rec for f in FIELDS) and rec["error"] is None, rec.get("error")
        assert rec["prompt_tokens"] > 128 and rec["ttft_s"] > 0 and 0 <= rec["score"] <= 1
    metrics = json.loads((dirs[method] / "metrics.json").read_text())
    assert metrics["overall"]["n"] == 2 and metrics["method"]["name"] == method
    resolved = method_from_config(metrics["method"])
    assert resolved.is_resolved()  # every per-model key (l_min, tsp_layer, ...) resolved before the run
    if "tau" in metrics["method"]:
        assert all(r["rel_variance"] for r in recs)  # the rule ran (selection_layer None if it never fired)
        assert metrics["method"]["l_min"] == 10  # the relative-depth policy on SmolLM2's 30 layers
    if "kv_budget" in metrics["method"]:
        assert metrics["method"]["kv_budget"] == 128
    for rec in recs:
        assert rec["kv_lengths"] == resolved.kv_lengths(rec["prompt_tokens"], 30, rec["selection_layer"])


def test_same_config_and_seed_same_predictions(all_methods, tmp_path):
    _, dirs = all_methods
    again = run(make_cfg(f"results_dir={tmp_path}", "method=asl", "benchmark.num_samples=2", *SMALL))
    assert again.name == dirs["asl"].name
    first = [r["prediction"] for r in read_jsonl(dirs["asl"] / "predictions.jsonl")]
    assert [r["prediction"] for r in read_jsonl(again / "predictions.jsonl")] == first


SHARED_FIELDS = ("prediction", "score", "prompt_tokens", "generated_tokens", "kv_lengths", "kv_cache_bytes",
                 "selection_layer", "selection_fired", "rel_variance", "error")  # fmt: skip


def test_shared_prefill_run_equals_the_separate_runs(all_methods, tmp_path):
    """Every method under test in one shared run: the same directory names (identity hashes) and, per
    sample, the same prediction, KV lengths, selection layer and rho trace as its own separate run."""
    from asl.harness.shared_run import run_shared

    _, dirs = all_methods
    cfgs = [
        make_cfg(f"results_dir={tmp_path}", f"method={m}", "benchmark.num_samples=2", *SMALL) for m in METHODS
    ]
    shared = run_shared(cfgs, [set()] * len(cfgs))
    assert [d.name for d in shared] == [dirs[m].name for m in METHODS]
    for method, run_dir in zip(METHODS, shared, strict=True):
        mine = read_jsonl(run_dir / "predictions.jsonl")
        alone = read_jsonl(dirs[method] / "predictions.jsonl")
        assert [{k: r[k] for k in SHARED_FIELDS} for r in mine] == [
            {k: r[k] for k in SHARED_FIELDS} for r in alone
        ]
        assert all(r["shared_prefill"] == len(METHODS) and r["ttft_s"] is None for r in mine)


def test_sigkill_then_resume(tmp_path):
    res = tmp_path / "res"
    args = [f"results_dir={res}", "method=snapkv", "benchmark.num_samples=4"]
    proc = cli(tmp_path, *args)
    deadline = time.time() + 240
    preds = None
    while time.time() < deadline and proc.poll() is None:
        found = list(res.glob("*/*/*/predictions.jsonl"))
        if found and found[0].read_text().count("\n") >= 1:
            preds = found[0]
            break
        time.sleep(0.05)
    assert preds is not None and proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [json.loads(x) for x in preds.read_text().splitlines() if x.strip().endswith("}")]
    assert 1 <= len(before) < 4
    proc = cli(tmp_path, *args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    after = read_jsonl(preds)
    assert sorted(r["id"] for r in after) == sorted({r["id"] for r in after}) and len(after) == 4
    assert after[: len(before)] == before  # finished samples were kept, not recomputed
    assert "done" in err and json.loads((preds.parent / "run_meta.json").read_text())["attempts"] == 2


def test_multirun_through_submitit_local(tmp_path):
    res = tmp_path / "res"
    proc = cli(tmp_path, "-m", "hydra/launcher=submitit_local", f"results_dir={res}", "method=fullkv,snapkv",
               "benchmark.num_samples=1", "hydra.launcher.timeout_min=10", "share_prefill=false")  # fmt: skip
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    metrics = sorted(res.glob("smollm2_135m/infinitebench/*/metrics.json"))
    assert [m.parent.name.split("-")[0] for m in metrics] == ["fullkv", "snapkv"]
    assert list(res.glob("multirun/*/.submitit/*"))  # the jobs really went through submitit
    for num, method in enumerate(["fullkv", "snapkv"]):  # each job folder: overrides, log, link to the run
        (job,) = res.glob(f"multirun/*/{num}")
        assert f"method={method}" in (job / "overrides.yaml").read_text()
        assert "run dir: " in (job / "job.log").read_text()
        assert (job / "run").resolve() == metrics[num].parent.resolve()


def test_shared_multirun_through_submitit_local(tmp_path):
    """share_prefill (the default): the two methods are one submitit job linking both run directories."""
    res = tmp_path / "res"
    proc = cli(tmp_path, "-m", "hydra/launcher=submitit_local", f"results_dir={res}", "method=fullkv,snapkv",
               "benchmark.num_samples=1", "hydra.launcher.timeout_min=10")  # fmt: skip
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    metrics = sorted(res.glob("smollm2_135m/infinitebench/*/metrics.json"))
    assert [m.parent.name.split("-")[0] for m in metrics] == ["fullkv", "snapkv"]
    jobs = sorted(p for p in res.glob("multirun/*/*") if p.name.isdigit())
    assert len(jobs) == 1 and "share_group" in (jobs[0] / "overrides.yaml").read_text()
    assert sorted((jobs[0] / f"run-{m.parent.name}").resolve() for m in metrics) == [
        m.parent.resolve() for m in metrics
    ]
    for m in metrics:
        recs = read_jsonl(m.parent / "predictions.jsonl")
        assert recs and all(r["shared_prefill"] == 2 for r in recs)
