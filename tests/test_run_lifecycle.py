"""A run's life with fake backends: lock, forced recompute, untouched when complete, warm-up, invocation id,
multirun job folder, and the W&B run (resumed under the same id, per-sample table) read back offline."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from asl.harness.experiment import WARMUP_NEW_TOKENS, run
from asl.harness.jobdir import JobFolder
from asl.harness.rundir import RunLock, choose_run_dir, revision_dir
from asl.harness.validation import HarnessError
from asl.results.reader import load_runs
from asl.results.store import read_records
from tests.runner_fakes import FakeBackend, make_cfg
from tests.wandb_reader import offline_runs, read_offline_run


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_second_process_on_a_run_dir_is_refused_naming_the_holder(tmp_path):
    cfg = make_cfg(f"results_dir={tmp_path}")
    first = run(cfg, FakeBackend().backend())
    with RunLock(first):  # another process holding the directory (flock is per open file)
        with pytest.raises(
            HarnessError, match=rf"being written by pid {os.getpid()} on .*run.wait_for_lock=true"
        ):
            run(
                make_cfg(f"results_dir={tmp_path}", "run.retry_errors=true"),
                FakeBackend(fail_ids=()).backend(),
            )


def test_wait_for_lock_waits_for_the_holder(tmp_path):
    held = RunLock(tmp_path / "run")
    held.acquire()
    threading.Timer(0.3, held.release).start()
    start = time.monotonic()
    with RunLock(tmp_path / "run", wait=True):
        assert time.monotonic() - start >= 0.25
    info = json.loads((tmp_path / "run" / ".lock").read_text())
    assert info["pid"] == os.getpid() and info["argv"] == sys.argv


def test_force_recomputes_into_a_fresh_directory_and_keeps_the_old(tmp_path):
    first = run(make_cfg(f"results_dir={tmp_path}"), FakeBackend().backend())
    before = _files(first)
    fb = FakeBackend()
    second = run(make_cfg(f"results_dir={tmp_path}", "run.force=true"), fb.backend())
    assert second == revision_dir(first, 2) and second.name == first.name + ".r2"
    assert _files(first) == before and len(fb.calls) == 7  # 6 samples + the warm-up, old dir untouched
    (kept,) = load_runs(tmp_path)
    assert kept.run_dir == second and kept.summary.revision == 2
    fb3 = FakeBackend()
    assert (
        run(make_cfg(f"results_dir={tmp_path}"), fb3.backend()) == second and fb3.calls == []
    )  # resumes .r2
    assert choose_run_dir(first, force=True) == revision_dir(first, 3)


def test_a_complete_run_is_left_byte_for_byte(tmp_path):
    run_dir = run(make_cfg(f"results_dir={tmp_path}"), FakeBackend().backend())
    before = _files(run_dir)
    run(make_cfg(f"results_dir={tmp_path}"), FakeBackend().backend())
    assert _files(run_dir) == before  # no rewritten meta, config or metrics, no new W&B run


class Recording(FakeBackend):
    """A fake that remembers each generate call's budget."""

    def __init__(self) -> None:
        super().__init__()
        self.budgets: list[int] = []

    def generate(self, model, tok, ids, method, **kw):
        self.budgets.append(kw["max_new_tokens"])
        return super().generate(model, tok, ids, method, **kw)


def test_one_untimed_warmup_before_the_first_timed_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("ASL_INVOCATION_ID", "inv-1")
    fb = Recording()
    run_dir = run(make_cfg(f"results_dir={tmp_path}"), fb.backend())
    assert fb.budgets[0] == WARMUP_NEW_TOKENS and fb.budgets[1:] == [4] * 6
    recs = read_records(run_dir / "predictions.jsonl")
    assert len(recs) == 6 and {r.invocation_id for r in recs} == {"inv-1"}
    meta = json.loads((run_dir / "run_meta.json").read_text())
    assert meta["invocation_id"] == "inv-1" and meta["invocations"] == ["inv-1"]
    assert json.loads((run_dir / "metrics.json").read_text())["invocation_id"] == "inv-1"
    off = Recording()
    run(make_cfg(f"results_dir={tmp_path / 'b'}", "run.warmup=false"), off.backend())
    assert off.budgets == [4] * 6


def test_multirun_job_folder_keeps_overrides_log_and_link(tmp_path):
    job = JobFolder(tmp_path / "multirun" / "0")
    run_dir = tmp_path / "smollm2_135m" / "fake" / "asl-0123456789"
    run_dir.mkdir(parents=True)
    job.write_overrides(["method=asl", "seed=1"])
    with job.tee():
        print("a line for the log")
        print("\rprogress redraw", file=sys.stderr)
    link = job.link(run_dir)
    assert (job.path / "overrides.yaml").read_text() == "- method=asl\n- seed=1\n"
    assert (job.path / "job.log").read_text() == "a line for the log\n"
    assert link.is_symlink() and link.resolve() == run_dir.resolve() and not os.path.isabs(os.readlink(link))


class Interrupting(FakeBackend):
    """Interrupted (Ctrl-C) at the third sample of its first run."""

    def generate(self, model, tok, ids, method, **kw):
        if kw["max_new_tokens"] != WARMUP_NEW_TOKENS and len(self.calls) == 3:
            raise KeyboardInterrupt
        return super().generate(model, tok, ids, method, **kw)


def test_wandb_resumes_the_same_run_with_a_per_sample_table(tmp_path):
    cfg = make_cfg(f"results_dir={tmp_path}", "logger.wandb.mode=offline", "method=asl")
    with pytest.raises(KeyboardInterrupt):
        run(cfg, Interrupting().backend(), experiment="table2_embedded")
    (run_dir,) = tmp_path.glob("smollm2_135m/fake/asl-*")
    first_id = json.loads((run_dir / "run_meta.json").read_text())["wandb_id"]
    run(cfg, FakeBackend().backend(), experiment="table2_embedded")
    files = offline_runs(run_dir)
    assert len(files) == 2 and {f.name for f in files} == {f"run-{first_id}.wandb"}  # one W&B run, resumed
    logged = read_offline_run(run_dir)
    assert logged["run"]["id"] == first_id and logged["run"]["group"] == "table2_embedded"
    assert logged["run"]["name"] == f"asl-smollm2_135m-fake-{run_dir.name.split('-')[-1]}"
    summary = logged["summary"]
    assert summary["overall/n"] == 6 and "task_mean_lo" in summary and "task/passkey/accuracy_hi" in summary
    assert not [k for k in summary if k.startswith("sample/")]  # no last-sample values in the summary
    (table,) = files[-1].parent.glob("files/media/table/samples_*.table.json")
    data = json.loads(table.read_text())
    assert data["columns"][:8] == ["id", "task", "context_length", "depth", "prediction", "answers", "score",
                                   "selection_layer"]  # fmt: skip
    assert len(data["data"]) == 6  # every sample, the ones of the interrupted attempt included
    assert list(files[-1].parent.glob("files/media/table/summary_table_*.table.json"))
