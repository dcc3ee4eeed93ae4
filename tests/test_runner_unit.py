"""Runner logic with fake engine/benchmark backends: files, fields, resume, errors, identity, W&B."""

from __future__ import annotations

import json

import pytest

from asl.harness.config import effective_method, identity, run_dir_for
from asl.harness.experiment import resolve_run_method, run
from asl.harness.validation import HarnessError
from asl.results.store import PredictionStore, read_records
from tests.runner_fakes import FakeBackend, make_cfg
from tests.wandb_reader import read_offline_run


def read_jsonl(path):
    return [r.to_json() for r in read_records(path)]


FIELDS = {
    "id", "task", "context_length", "prompt_tokens", "prediction", "answers", "score", "ttft_s", "tpot_s",
    "peak_memory_bytes", "kv_cache_bytes", "selection_layer", "rel_variance", "error", "metric", "options", "meta",
}  # fmt: skip


def test_run_writes_files_fields_and_records_errors(tmp_path):
    fb = FakeBackend(fail_ids=("2",))
    run_dir = run(make_cfg(f"results_dir={tmp_path}", "method=asl"), fb.backend())
    assert run_dir.parent == tmp_path / "smollm2_135m" / "fake"
    assert {p.name for p in run_dir.iterdir()} >= {
        "predictions.jsonl",
        "metrics.json",
        "config.yaml",
        "run_meta.json",
    }
    recs = read_jsonl(run_dir / "predictions.jsonl")
    assert len(recs) == 6 and all(FIELDS <= set(r) for r in recs)
    failed = [r for r in recs if r["error"]]
    assert len(failed) == 2 and all("out of memory" in r["error"] and "\n" not in r["error"] for r in failed)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["overall"]["n"] == 6 and metrics["overall"]["n_errors"] == 2
    passkey = next(t for t in metrics["tasks"] if t["task"] == "passkey")
    assert passkey["accuracy"] == 50.0  # 1 of the 2 scored samples
    assert metrics["method"]["l_min"] == 10  # resolved once, from the composed model node, before the run
    assert metrics["method"]["_target_"] == "asl.methods.asl.ASL" and metrics["method_label"] == "ASL"
    meta = json.loads((run_dir / "run_meta.json").read_text())
    assert meta["status"] == "complete" and meta["end_time"] and "commit" in meta["git"]
    assert meta["libraries"]["python"]


def test_resume_skips_finished_and_repairs_torn_line(tmp_path):
    cfg = make_cfg(f"results_dir={tmp_path}", "method=snapkv")
    fb = FakeBackend()
    run_dir = run(cfg, fb.backend())
    first = (run_dir / "predictions.jsonl").read_text().splitlines()
    # simulate a kill: keep 2 samples and half of the third line
    (run_dir / "predictions.jsonl").write_text("\n".join(first[:2]) + "\n" + first[2][:40])
    fb2 = FakeBackend()
    assert run(cfg, fb2.backend()) == run_dir
    assert len(fb2.calls) == 5  # the 4 missing samples and one untimed warm-up before them
    recs = read_jsonl(run_dir / "predictions.jsonl")
    keys = [(r["task"], r["id"]) for r in recs]
    assert len(keys) == 6 == len(set(keys))
    assert (run_dir / "predictions.jsonl").read_text().splitlines()[:2] == first[:2]
    assert json.loads((run_dir / "run_meta.json").read_text())["attempts"] == 2
    fb3 = FakeBackend()
    run(cfg, fb3.backend())
    assert fb3.calls == []


def test_store_drops_bad_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"task": "a", "id": "1"}\nnot json\n{"task": "a", "id": "2"}\n{"task": "a", "id"')
    assert len(PredictionStore(path).load()) == 2
    assert path.read_text().count("\n") == 2 and path.read_text().endswith("\n")


def test_identity_hash_stable_and_distinct(tmp_path):
    def rd(*ov):
        cfg = make_cfg(*ov)
        return run_dir_for(tmp_path, identity(cfg, resolve_run_method(cfg)[1].to_config()))

    assert rd("method=asl") == rd("method=asl")
    assert rd("method=asl") != rd("method=asl", "method.tau=0.4")
    assert rd("method=asl") != rd("method=asl", "seed=1")
    assert rd("method=asl") != rd("method=asl", "benchmark.num_samples=2")
    assert rd("method=asl", "method.kv_budget=256") == rd("method=asl", "+method_overrides.kv_budget=256")
    # a model-node override reaches the resolved method, hence the hash (and the engine: same object)
    assert rd("method=asl") == rd("method=asl", "method.l_min=10")
    assert rd("method=asl") != rd(
        "method=asl", "+model.layer_presets.spec.l_min=12", "model.layer_preset=spec"
    )


def test_model_override_reaches_the_method_the_engine_gets():
    cfg = make_cfg("method=asl", "model=tiny_llama", "model.layer_presets.spec.l_min=5")
    spec, method = resolve_run_method(cfg)
    assert method.l_min == 5 and spec.layer_defaults()["l_min"] == 5
    cfg = make_cfg("method=snapkv", "model=llama31_8b_ul", "model.layer_preset=reference")
    assert resolve_run_method(cfg)[1].uncompressed_layers == (0, 1, 2, 3, 4)
    with pytest.raises(HarnessError, match="unknown layer_preset"):
        resolve_run_method(make_cfg("model=qwen25_7b", "model.layer_preset=paper"))


def test_method_overrides_skip_missing_keys_and_cli_wins():
    cfg = make_cfg("method=fullkv", "+method_overrides.kv_budget=256")
    assert "kv_budget" not in effective_method(cfg)
    cfg = make_cfg("method=asl", "+method_overrides.kv_budget=256", "method.kv_budget=512")
    assert effective_method(cfg, {"method.kv_budget"})["kv_budget"] == 512
    assert effective_method(cfg)["kv_budget"] == 256


@pytest.mark.parametrize(
    "override, text",
    [
        ("method.tau=0", "tau"),
        ("method.tau=1.5", "tau"),
        ("method.kv_budget=32", "window"),
        ("method.l_min=40", "l_min"),
        ("benchmark.context_length=9000", "maximum context"),
        ("benchmark.context_length=[512,100000]", "maximum context"),
        ("benchmark.num_samples=0", "num_samples"),
        ("+method.bogus=1", "bogus"),
    ],
)
def test_bad_values_raise_before_any_dir(tmp_path, override, text):
    with pytest.raises(HarnessError, match=text):
        run(make_cfg(f"results_dir={tmp_path}", "method=asl", override), FakeBackend().backend())
    assert not any(tmp_path.iterdir())


def test_deterministic_predictions(tmp_path):
    a = run(make_cfg(f"results_dir={tmp_path / 'a'}"), FakeBackend().backend())
    b = run(make_cfg(f"results_dir={tmp_path / 'b'}"), FakeBackend().backend())
    pa = [r["prediction"] for r in read_jsonl(a / "predictions.jsonl")]
    assert pa == [r["prediction"] for r in read_jsonl(b / "predictions.jsonl")]


def test_wandb_offline_holds_summary(tmp_path):
    cfg = make_cfg(f"results_dir={tmp_path}", "logger.wandb.mode=offline", "benchmark.tasks=[passkey]")
    run_dir = run(cfg, FakeBackend().backend())
    logged = read_offline_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert logged["summary"]["overall/accuracy"] == pytest.approx(metrics["overall"]["accuracy"])
    assert logged["summary"]["overall/n"] == 3
    assert logged["config"]["method"]["name"] == "asl"
    samples = [row for row in logged["history"] if "sample/score" in row]
    assert len(samples) == 3 and not any(k.startswith("sample/") for k in logged["summary"])


def test_skipped_tasks_and_data_provenance_are_recorded(tmp_path):
    """Tasks eval skips (benchmark.allow_missing) land in metrics.json; describe_run in run_meta.json."""
    from eval.errors import SkippedTask

    class Skipping(FakeBackend):
        def load_examples(self, bench, tokenizer, seed, skipped=None):
            skipped.append(SkippedTask("ruler", "qa_1", "no squad.json in data_dir", 512))
            return super().load_examples(bench, tokenizer, seed, skipped)

    fb = Skipping()
    backend = fb.backend()
    backend.describe_run = lambda bench, examples, skipped: {
        "coverage": {"label": f"1 of {1 + len(skipped)} tasks"}
    }
    run_dir = run(make_cfg(f"results_dir={tmp_path}", "benchmark.tasks=[passkey]"), backend)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["skipped_tasks"] == [
        {"benchmark": "ruler", "task": "qa_1", "reason": "no squad.json in data_dir", "context_length": 512}
    ]
    meta = json.loads((run_dir / "run_meta.json").read_text())
    assert meta["benchmark"]["coverage"]["label"] == "1 of 2 tasks"
