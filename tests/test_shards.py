"""Sample sharding (``run.shard=I/N``): shard files in one run directory, merged into the one-job result."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from asl.harness.experiment import run
from asl.harness.rundir import RunLock
from asl.harness.shards import Shard, ShardLock, parse_shard, shard_of
from asl.harness.validation import HarnessError, validate_run
from asl.results.reader import load_run, load_runs
from asl.results.shardfiles import read_run_records
from asl.results.tables import summary_rows
from asl.results.writers import summary_csv, tables_markdown
from tests.runner_fakes import FakeBackend, make_cfg

METHODS = ("fullkv", "asl")


def _run_all(root: Path, *extra: str, methods: tuple[str, ...] = METHODS) -> dict[str, Path]:
    return {
        m: run(make_cfg(f"results_dir={root}", f"method={m}", *extra), FakeBackend().backend())
        for m in methods
    }


def _records(run_dir: Path) -> list[dict]:
    return sorted((r.to_json() for r in read_run_records(run_dir)), key=lambda r: (r["task"], r["id"]))


def _tables(root: Path) -> tuple[str, str]:
    rows = summary_rows(load_runs(root))
    return tables_markdown(rows, "fullkv"), summary_csv(rows).replace(str(root), "ROOT")


def test_two_shards_give_the_one_job_records_metrics_and_tables(tmp_path):
    one = _run_all(tmp_path / "one")
    for i in range(2):
        sharded = _run_all(tmp_path / "sharded", f"run.shard={i}/2")
    for m in METHODS:
        a, b = one[m], sharded[m]
        assert a.relative_to(tmp_path / "one") == b.relative_to(tmp_path / "sharded")  # same hash
        assert not (b / "predictions.jsonl").exists()
        assert sorted(p.name for p in b.glob("predictions.*")) == [
            "predictions.shard-0-of-2.jsonl", "predictions.shard-1-of-2.jsonl"]  # fmt: skip
        assert _records(a) == _records(b)
        assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
        meta = json.loads((b / "run_meta.json").read_text())
        assert meta["status"] == "complete"
        assert set(meta["shards"]) == {"shard-0-of-2", "shard-1-of-2"}
        assert load_run(b).summary.complete
    assert _tables(tmp_path / "one") == _tables(tmp_path / "sharded")


def test_one_shard_alone_is_partial_and_the_reader_sees_its_samples(tmp_path):
    run_dir = _run_all(tmp_path, "run.shard=1/2", methods=("asl",))["asl"]
    meta = json.loads((run_dir / "run_meta.json").read_text())
    assert meta["status"] == "partial" and meta["shards"]["shard-1-of-2"]["status"] == "complete"
    summary = load_run(run_dir).summary
    assert not summary.complete and summary.overall.n == 3 and summary.n_expected == 6


def test_shards_are_round_robin_and_cover_every_example_once():
    items = list(range(11))
    parts = [shard_of(items, Shard(i, 3)) for i in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert shard_of(items, None) == items


def test_plain_rerun_resumes_from_the_shard_files(tmp_path):
    first = _run_all(tmp_path, "run.shard=0/2", methods=("asl",))["asl"]
    fb = FakeBackend()
    again = run(make_cfg(f"results_dir={tmp_path}", "method=asl", "run.warmup=false"), fb.backend())
    assert again == first
    assert fb.calls == ["1", "0", "2"]  # only shard 1's samples: passkey/1, kv_retrieval/0, kv_retrieval/2
    one = _run_all(tmp_path / "one", methods=("asl",))["asl"]
    assert _records(one) == _records(first)
    assert json.loads((first / "run_meta.json").read_text())["status"] == "complete"


def test_a_shard_resumes_its_own_samples(tmp_path):
    run_dir = run(
        make_cfg(f"results_dir={tmp_path}", "run.shard=0/2"), FakeBackend(fail_ids=("2",)).backend()
    )
    fb = FakeBackend()
    run(make_cfg(f"results_dir={tmp_path}", "run.shard=0/2", "run.retry_errors=true", "run.warmup=false"),
        fb.backend())  # fmt: skip
    assert fb.calls == ["2"]  # shard 0 holds passkey/0, passkey/2, kv_retrieval/1: only the failed one again
    assert all(r.ok for r in read_run_records(run_dir))


def test_shards_lock_independently_and_exclude_a_plain_run(tmp_path):
    run_dir = tmp_path / "run"
    with ShardLock(run_dir, Shard(0, 2)):
        with ShardLock(run_dir, Shard(1, 2)):  # another shard of the same directory runs alongside
            pass
        with pytest.raises(HarnessError, match="being written by"):
            ShardLock(run_dir, Shard(0, 2)).acquire()  # the same shard twice (flock is per open file)
        with pytest.raises(HarnessError, match="being written by"):
            RunLock(run_dir).acquire()  # a plain run of the directory
    with RunLock(run_dir):
        with pytest.raises(HarnessError, match="plain run"):
            ShardLock(run_dir, Shard(1, 2)).acquire()


def test_a_shard_runs_while_another_holds_its_lock(tmp_path):
    run_dir = _run_all(tmp_path, "run.shard=0/2", methods=("asl",))["asl"]
    with ShardLock(run_dir, Shard(0, 2)):  # shard 0 "still running" in another process
        run(make_cfg(f"results_dir={tmp_path}", "method=asl", "run.shard=1/2"), FakeBackend().backend())
    assert json.loads((run_dir / "run_meta.json").read_text())["status"] == "complete"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["run.shard=2/2"], r"0 <= I < N, got 2/2"),
        (["run.shard=a/2"], r"I/N"),
        (["run.shard=1"], r"run.shards=N"),
        (["run.shards=4"], r"needs run.shard"),
        (["run.shard=1/2", "run.shards=3"], r"disagrees"),
        (["run.shard=0/2", "run.force=true"], r"run.force=true cannot be combined"),
    ],
)
def test_bad_shard_settings_are_one_line_errors(overrides, message, tmp_path):
    cfg = make_cfg(f"results_dir={tmp_path}", *overrides)
    with pytest.raises(HarnessError, match=message) as err:
        validate_run(cfg)
    assert "\n" not in str(err.value)
    with pytest.raises(HarnessError):
        run(cfg, FakeBackend().backend())
    assert not any(tmp_path.iterdir())  # nothing written


def test_shard_index_with_shards_count_as_hydra_sweeps_it():
    assert parse_shard(3, 8) == Shard(3, 8) and parse_shard("3/8") == Shard(3, 8)
    assert parse_shard("0/1") is None  # one shard is the plain run


class Slow(FakeBackend):
    """A generate call that takes a while, so that two shards overlap (``peak``: most calls at once)."""

    lock, active, peak = threading.Lock(), 0, 0

    def generate(self, *args, **kw):
        with Slow.lock:
            Slow.active += 1
            Slow.peak = max(Slow.peak, Slow.active)
        time.sleep(0.3)
        with Slow.lock:
            Slow.active -= 1
        return super().generate(*args, **kw)


def test_two_shards_running_at_once_complete_the_run(tmp_path):
    cfgs = [
        make_cfg(f"results_dir={tmp_path / 'sharded'}", f"run.shard={i}/2", "run.progress=false")
        for i in range(2)
    ]
    out, errors = [], []

    def shard(cfg):
        try:
            out.append(run(cfg, Slow().backend()))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=shard, args=(c,)) for c in cfgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and out[0] == out[1]
    assert Slow.peak == 2  # the two shards did generate at the same time
    meta = json.loads((out[0] / "run_meta.json").read_text())
    assert meta["status"] == "complete" and len(meta["shards"]) == 2
    one = run(make_cfg(f"results_dir={tmp_path / 'one'}"), FakeBackend().backend())
    assert _records(one) == _records(out[0])
    assert (one / "metrics.json").read_bytes() == (out[0] / "metrics.json").read_bytes()
