"""Python entry points: asl.evaluate (with a fake backend), list_benchmarks, and the dry-run plan."""

from __future__ import annotations

import pytest

import asl
from asl.harness.plan import plan_text, sample_count
from asl.harness.validation import HarnessError
from tests.runner_fakes import FakeBackend, make_cfg


def test_list_benchmarks_and_methods():
    assert "infinitebench_embedded" in asl.list_benchmarks() and "ruler" in asl.list_benchmarks()
    assert "asl" in asl.list_methods()


def test_evaluate_returns_the_summary_table(tmp_path):
    fb = FakeBackend()
    out = asl.evaluate(
        method="asl", benchmark="infinitebench_embedded", backend=fb.backend(), tau=0.5, num_samples=2,
        results_dir=str(tmp_path), **{"logger.wandb.mode": "disabled", "benchmark.tasks": ["infinitebench/passkey"]},
    )  # fmt: skip
    result = out["results"]["infinitebench/passkey"]
    assert result["n"] == 2 and result["accuracy"] == 50.0  # the fake answers sample 0 only
    lo, hi = result["accuracy_ci95"]
    assert 0 < lo < 50 < hi < 100 and result["selection_fired"] == 2 and result["selection_n"] == 2
    assert out["config"]["tau"] == 0.5 and out["config"]["kv_budget"] == 256  # the model's method_defaults
    assert "| infinitebench/passkey | 2 | 0 | 50.0 [" in out["table"] and out["run_dir"].startswith(
        str(tmp_path)
    )
    again = asl.evaluate(method="asl", backend=FakeBackend().backend(), tau=0.5, num_samples=2, kv_budget=512,
                         results_dir=str(tmp_path), **{"logger.wandb.mode": "disabled"})  # fmt: skip
    assert again["config"]["kv_budget"] == 512  # an explicit key wins over the model's suggestion


def test_evaluate_a_list_of_methods_shares_one_prefill(tmp_path):
    fb = FakeBackend()
    kw = dict(benchmark="infinitebench_embedded", num_samples=2, results_dir=str(tmp_path),
              method_overrides={"tau": 0.5}, **{"logger.wandb.mode": "disabled", "benchmark.tasks": ["infinitebench/passkey"]})  # fmt: skip
    out = asl.evaluate(method=["fullkv", "asl", "fullkv"], backend=fb.backend(), **kw)
    assert list(out) == ["fullkv", "asl"] and out["asl"]["config"]["tau"] == 0.5
    assert [len(m) for _, m in fb.shared_calls] == [2, 2]  # one call per sample for both methods
    alone = asl.evaluate(
        method="asl", backend=FakeBackend().backend(), **{**kw, "results_dir": str(tmp_path / "a")}
    )
    assert (
        alone["results"]["infinitebench/passkey"]["accuracy"]
        == out["asl"]["results"]["infinitebench/passkey"]["accuracy"]
    )
    assert (
        out["asl"]["results"]["infinitebench/passkey"]["ttft_s"] is None
    )  # a shared prefill times no method


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"tua": 0.5}, "unknown key 'tua': method asl has no 'tua'"),
        ({"method": "fullkv", "kv_budget": 256}, "method fullkv has no 'kv_budget'"),
        ({"benchmark": "nope"}, "unknown benchmark 'nope'; choices: infinitebench"),
    ],
)
def test_evaluate_bad_input_is_one_line(tmp_path, kwargs, text):
    with pytest.raises(ValueError, match=text):
        asl.evaluate(results_dir=str(tmp_path), backend=FakeBackend().backend(), **kwargs)
    assert not any(tmp_path.iterdir())


def test_dry_run_plans_without_loading_anything(tmp_path):
    cfg = make_cfg(f"results_dir={tmp_path}", "method=asl", "model=tiny_llama")
    text = plan_text(cfg)
    assert "plan: ASL on tiny_llama / fake" in text and "(0 of 6 samples done)" in text
    assert (
        "samples: 6 = 2 task(s) x 3 (passkey, kv_retrieval)" in text and "prompt lengths: ~512 tokens" in text
    )
    assert "estimated time: ~" in text and "TFLOP per prefill" in text  # from the cost model
    assert not any(tmp_path.iterdir())
    with pytest.raises(HarnessError, match="seed must be an integer"):
        plan_text(make_cfg(f"results_dir={tmp_path}", "seed=abc"))


def test_sample_count_of_a_grid():
    niah = {
        "tasks": ["niah_asl"],
        "context_length": [1024, 2048, 3072],
        "depths": [0, 50, 100],
        "num_samples": 1,
    }
    assert sample_count(niah)[0] == 9
