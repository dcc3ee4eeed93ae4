"""Tables from fixture run directories alone (no model)."""

from __future__ import annotations

import csv
import shutil

from asl.harness.report import table2_report
from asl.harness.tables import summary_rows, write_tables
from tests.runner_fakes import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "runs"


def copy_fixtures(tmp_path):
    dst = tmp_path / "runs"
    shutil.copytree(FIXTURES, dst)
    return dst


def test_summary_csv_rows_and_columns(tmp_path):
    runs = copy_fixtures(tmp_path)
    csv_path, md_path, md = write_tables(runs)
    rows = list(csv.DictReader(csv_path.open()))
    assert {"model", "method", "kv_before", "benchmark", "task", "context_length", "kv_budget", "tau", "n",
            "accuracy", "ttft_s", "tpot_s", "peak_memory_gb", "kv_cache_gb", "selection_layer"} <= set(rows[0])  # fmt: skip
    ib = [r for r in rows if r["benchmark"] == "infinitebench_embedded"]
    assert len(ib) == 5 * 2  # 5 methods x 2 tasks
    assert {(r["method"], r["kv_before"]) for r in ib} >= {
        ("asl", "snapkv"),
        ("asl", "full"),
        ("fullkv", "-"),
    }
    ruler = [r for r in rows if r["benchmark"] == "ruler"]
    assert sorted({r["context_length"] for r in ruler}) == ["1024", "512"]
    assert "| Method | Retr.PassKey | Retr.KV | Avg. |" in md
    assert (
        "| ASL (Full before) |" in md
        and "TTFT ratio to Full KV" in md
        and "| Method | 512 | 1024 | Avg. |" in md
    )
    assert md_path.read_text().strip() == md.strip()


def test_labels_come_from_recorded_config_not_dir_names(tmp_path):
    runs = copy_fixtures(tmp_path)
    base = runs / "smollm2_135m" / "infinitebench_embedded"
    asl = next(base.glob("asl-*"))
    snap = next(base.glob("snapkv-*"))
    asl.rename(base / "zzz")  # directory names and order carry no meaning
    snap.rename(base / "aaa")
    text = (base / "zzz" / "predictions.jsonl").read_text().replace('"score": 0.0', '"score": 1.0')
    (base / "zzz" / "predictions.jsonl").write_text(text)
    rows = {(r["method"], r["kv_before"], r["task"]): r for r in summary_rows(runs)}
    assert rows[("asl", "snapkv", "passkey")]["accuracy"] == 100.0
    assert rows[("snapkv", "-", "passkey")]["accuracy"] == 50.0


def test_table2_report_against_paper():
    rows = [dict(r, model="llama31_8b_ul") for r in summary_rows(FIXTURES)]
    csv_text, md = table2_report(rows, "llama31_8b_ul")
    assert "ours / paper (ours − paper)" in md
    # Full KV passkey: ours 50, paper 100; averaged over the tasks run (passkey, kv_retrieval: 100, 16.2)
    assert "| Full KV | 50.00 / 100.00 (-50.00) | 50.00 / 16.20 (+33.80) | 50.00 / 58.10 (-8.10) |" in md
    sources = [line.split(",")[3] for line in csv_text.splitlines()[1:]]
    assert sources.count("paper") == 5 and sources.count("diff") == 5
    _, md_small = table2_report(summary_rows(FIXTURES), "smollm2_135m")
    assert "paper" not in md_small
