"""Data paths never fall back silently (issue 19): each bad data case is one line and exit code 2 through
scripts/run.py, before any model loads; each of these ran end to end (exit 0) or failed late before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from asl.harness.experiment import Experiment, substitutions
from eval.datasources import read_json
from eval.errors import BenchmarkError, MissingDataError
from eval.suite import check_data, load_examples

ROOT = Path(__file__).resolve().parents[1]
LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
IB = {"name": "ib", "family": "infinitebench", "tasks": ["passkey"], "context_length": 1024}


def run_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "scripts" / "run.py"), f"results_dir={tmp_path / 'res'}",
           "logger.wandb.mode=disabled", *args]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def write_passkey(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passkey.jsonl").write_text(text)
    return folder


RECORD = {"id": 0, "context": "c", "input": "q", "answer": ["1"]}
CASES = {
    "wrong field names": (
        json.dumps({"text": "c", "question": "q", "answers": ["1"]}) + "\n",
        r"passkey\.jsonl:1: missing context, answer; unknown text, question, answers",
    ),
    "unknown field": (json.dumps({**RECORD, "extra": 1}) + "\n", r"passkey\.jsonl:1: unknown extra"),
    "empty file": ("\n", r"passkey\.jsonl:1: empty file"),
    "git-lfs pointer": (LFS, r"passkey\.jsonl:1: a Git LFS pointer"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_infinitebench_files_are_one_line_errors(tmp_path: Path, case: str) -> None:
    text, message = CASES[case]
    folder = write_passkey(tmp_path / "ib", text)
    with pytest.raises(BenchmarkError, match=message):
        check_data({**IB, "data_dir": str(folder)})
    with pytest.raises(BenchmarkError, match=message):
        load_examples({**IB, "data_dir": str(folder)}, tokenizer=None, seed=0)


def test_no_data_folder_and_no_sample_count_is_missing_data() -> None:
    """infinitebench / infinitebench_paper as shipped: the generated tasks used to run ONE sample each."""
    bench = {**IB, "num_samples": None, "data_dir": None}
    with pytest.raises(MissingDataError, match="no data folder and no sample count"):
        check_data(bench)
    with pytest.raises(MissingDataError, match="no data folder and no sample count"):
        load_examples(bench, tokenizer=None, seed=0)
    check_data({**bench, "num_samples": 2})  # generating N samples is asked for explicitly: fine


def test_lfs_pointer_json_is_not_called_malformed(tmp_path: Path) -> None:
    (tmp_path / "english_words.json").write_text(LFS)
    with pytest.raises(BenchmarkError, match="Git LFS pointer"):
        read_json(tmp_path / "english_words.json")


def test_short_prompt_is_flagged_in_the_sample_and_warned_once(capsys: pytest.CaptureFixture) -> None:
    exp = SimpleNamespace(_warned_short=False)
    example = SimpleNamespace(task="fwe", id="0", meta={"max_prompt_tokens": 1000})
    info = Experiment._fill(exp, {"truncated": False}, 966, example)
    assert info["short_prompt"] is True and info["fill"] == 0.966
    assert Experiment._fill(exp, {}, 990, example) == {"fill": 0.99}  # 99% is not short
    Experiment._fill(exp, {}, 500, example)
    assert capsys.readouterr().err.count("short_prompt") == 1


def test_fallback_haystack_is_a_recorded_substitution() -> None:
    ex = SimpleNamespace(meta={"haystack_fallback_for": "Paul Graham essays"})
    (line,) = substitutions({"haystack": None}, [ex, ex])
    assert "stands in for Paul Graham essays" in line and "benchmark.haystack" in line
    assert substitutions({"haystack": "pd_default"}, [ex]) == []  # chosen explicitly: no substitution


# (arguments, expected one-line message) through scripts/run.py: exit code 2, before the model loads
CLI_CASES = {
    "no data folder": (
        ["benchmark=infinitebench_paper", "benchmark.context_length=2048", "benchmark.tasks=[passkey]"],
        "no data folder and no sample count",
    ),  # fmt: skip
    "data folder missing": (
        [
            "benchmark=infinitebench",
            "benchmark.context_length=2048",
            "benchmark.tasks=[passkey]",
            "benchmark.data_dir=/nonexistent/ib",
        ],
        "benchmark.data_dir: no such directory: /nonexistent/ib",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", [*sorted(CLI_CASES), *sorted(CASES)])
def test_run_py_exit_code_2_and_one_line(tmp_path: Path, case: str) -> None:
    if case in CLI_CASES:
        args, message = CLI_CASES[case]
    else:
        text, pattern = CASES[case]
        folder = write_passkey(tmp_path / "ib", text)
        args = ["benchmark=infinitebench", "benchmark.context_length=2048", "benchmark.tasks=[passkey]",
                f"benchmark.data_dir={folder}"]  # fmt: skip
        message = pattern.replace("\\", "").split(": ", 1)[1]
    proc = run_py(tmp_path, *args)
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(err) == 1 and err[0].startswith("run.py: error: ") and message in err[0], err
    assert not (tmp_path / "res").exists()  # nothing written
