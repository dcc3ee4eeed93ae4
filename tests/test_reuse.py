"""Growing ``num_samples`` reuses the finished samples of the smaller run (nested subsets)."""

from __future__ import annotations

import json

from asl.harness.experiment import run
from asl.results.shardfiles import read_run_records
from tests.runner_fakes import FakeBackend, make_cfg

TIMING = ("invocation_id",)


def _records(run_dir):
    out = [{k: v for k, v in r.to_json().items() if k not in TIMING} for r in read_run_records(run_dir)]
    return sorted(out, key=lambda r: (r["task"], r["id"]))


def _cfg(root, n, *extra):
    return make_cfg(
        f"results_dir={root}", "method=asl", f"benchmark.num_samples={n}", "run.warmup=false", *extra
    )


def test_growing_num_samples_computes_only_the_new_samples(tmp_path, capsys):
    small = run(_cfg(tmp_path, 2), FakeBackend().backend())
    capsys.readouterr()
    fb = FakeBackend()
    grown = run(_cfg(tmp_path, 3), fb.backend())
    assert grown != small and grown.parent == small.parent  # num_samples stays in the identity
    assert fb.calls == ["2", "2"]  # passkey/2 and kv_retrieval/2 only
    err = capsys.readouterr().err
    assert f"reused 4 of 6 samples from {small.name} (4)" in err
    meta = json.loads((grown / "run_meta.json").read_text())
    assert meta["reused_from"] == [[str(small), 4]] and meta["status"] == "complete"
    fresh = run(_cfg(tmp_path / "fresh", 3), FakeBackend().backend())
    assert _records(grown) == _records(fresh)
    assert (grown / "metrics.json").read_text() == (fresh / "metrics.json").read_text().replace(
        str(tmp_path / "fresh"), str(tmp_path)
    )


def test_only_runs_differing_in_num_samples_are_reused(tmp_path):
    run(make_cfg(f"results_dir={tmp_path}", "method=asl", "benchmark.num_samples=2", "method.kv_budget=64"),
        FakeBackend().backend())  # fmt: skip
    run(make_cfg(f"results_dir={tmp_path}", "method=asl", "benchmark.num_samples=2", "seed=1"),
        FakeBackend().backend())  # fmt: skip
    fb = FakeBackend()
    run(_cfg(tmp_path, 3), fb.backend())
    assert len(fb.calls) == 6  # another budget, another seed: nothing reused


class OtherAnswers(FakeBackend):
    """The same sample ids with other content (a generator that was not nested)."""

    def load_examples(self, bench, tokenizer, seed, skipped=None):
        out = super().load_examples(bench, tokenizer, seed, skipped)
        for ex in out:
            ex.answers = [f"{ex.answers[0]}-{bench['num_samples']}"]
        return out


def test_a_record_of_a_different_example_is_not_reused(tmp_path):
    run(_cfg(tmp_path, 2), OtherAnswers().backend())
    fb = OtherAnswers()
    run(_cfg(tmp_path, 3), fb.backend())
    assert len(fb.calls) == 6


def test_failed_samples_are_not_reused_and_force_reuses_nothing(tmp_path):
    run(_cfg(tmp_path, 2), FakeBackend(fail_ids=("1",)).backend())
    fb = FakeBackend()
    run(_cfg(tmp_path, 3), fb.backend())
    assert sorted(fb.calls) == ["1", "1", "2", "2"]
    fb = FakeBackend()
    run(_cfg(tmp_path, 3, "run.force=true"), fb.backend())
    assert len(fb.calls) == 6


def test_a_sharded_grown_run_reuses_per_shard(tmp_path):
    run(_cfg(tmp_path, 2), FakeBackend().backend())
    calls = []
    for i in range(2):
        fb = FakeBackend()
        grown = run(_cfg(tmp_path, 3, f"run.shard={i}/2"), fb.backend())
        calls += fb.calls
    assert sorted(calls) == ["2", "2"]
    fresh = run(_cfg(tmp_path / "fresh", 3), FakeBackend().backend())
    assert _records(grown) == _records(fresh)
    assert json.loads((grown / "run_meta.json").read_text())["status"] == "complete"
