"""scripts/run.py on bad input: one clear stderr line, non-zero exit, no run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runner_fakes import FIXTURE_CONFIGS, ROOT

BENCH_DIR = ROOT / "configs" / "benchmark"
needs_ib = pytest.mark.skipif(
    not (BENCH_DIR / "infinitebench_embedded.yaml").exists(), reason="benchmark configs not written yet"
)


def run_cli(
    tmp_path: Path, *args: str, script: str = "run.py", timeout: int = 120
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["HF_HUB_OFFLINE"] = "1"
    cmd = [sys.executable, str(ROOT / "scripts" / script), f"results_dir={tmp_path / 'res'}", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def assert_clean_failure(proc: subprocess.CompletedProcess, tmp_path: Path, text: str) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert proc.returncode != 0, proc.stdout
    assert len(lines) == 1, proc.stderr
    assert "error:" in lines[0] and text in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "res").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["data"])  # Hydra wrote nothing either


FAKE = [f"hydra.searchpath=[file://{FIXTURE_CONFIGS}]", "benchmark=fake", "logger.wandb.mode=disabled"]


# Each case is a fresh interpreter (~10 s with torch); the value checks are covered in-process by
# test_runner_unit.py::test_bad_values_raise_before_any_dir, so only representatives run here.
@pytest.mark.parametrize(
    "args, text",
    [
        (["model=nope"], "unknown model 'nope'; choices: "),
        (["-m", "method=asl,nope"], "unknown method 'nope'; choices: asl"),
        (FAKE + ["method.nope=1"], "method.nope"),
        (FAKE + ["method.tau=0"], "tau must be in (0, 1]"),
        (FAKE + ["benchmark.context_length=[1024,9000]"], "exceeds smollm2_135m's maximum context 8192"),
    ],
)
def test_bad_input(tmp_path, args, text):
    assert_clean_failure(run_cli(tmp_path, *args), tmp_path, text)


@needs_ib
@pytest.mark.parametrize(
    "args, text",
    [
        (["benchmark.tasks=[no_such_task]"], "no_such_task"),
        (
            [
                "benchmark=infinitebench_paper",
                "benchmark.tasks=[longbook_qa_eng]",
                "benchmark.context_length=4096",
                "benchmark.data_dir=null",
            ],
            "data_dir",
        ),  # fmt: skip
    ],
)
def test_bad_benchmark_input(tmp_path, args, text):
    proc = run_cli(tmp_path, "logger.wandb.mode=disabled", "benchmark.num_samples=1", *args)
    assert_clean_failure(proc, tmp_path, text)


@needs_ib
def test_malformed_jsonl_names_the_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good = {"id": 0, "context": "abc", "input": "q", "answer": ["x"], "options": []}
    (data / "longbook_qa_eng.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    proc = run_cli(
        tmp_path, "logger.wandb.mode=disabled", "benchmark=infinitebench_paper", "benchmark.tasks=[longbook_qa_eng]",
        f"benchmark.data_dir={data}", "benchmark.context_length=4096", "benchmark.num_samples=2",
    )  # fmt: skip
    assert_clean_failure(proc, tmp_path, "longbook_qa_eng.jsonl:2: malformed")
