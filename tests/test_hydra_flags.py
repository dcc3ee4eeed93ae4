"""Hydra behaves like Hydra: its own flags pass the pre-check of every script, multirun previews, --help
with each benchmark's tasks, and errors that name the key and list the valid ones."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from asl.harness.cli import flags_first, precheck
from tests.runner_fakes import ROOT

SCRIPTS = ["run.py", "make_tables.py", "reproduce_table2.py", "plot.py"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--cfg", "job"],
        ["-c", "hydra"],
        ["--cfg=all", "method=snapkv"],
        ["--info", "defaults"],
        ["--info"],
        ["-cn", "config", "method=fullkv"],
        ["--config-name=config", "--cfg", "job"],
        ["-cp", "../configs", "-cn", "config"],
        ["--help"],
        ["--hydra-help"],
        ["-m", "method=asl,snapkv"],
    ],
)
def test_hydra_flags_are_not_taken_for_overrides(argv):
    assert precheck(argv, validate=True)[0] is None


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["results_dir=x", "-m", "method=a,b"], ["-m", "results_dir=x", "method=a,b"]),
        (["a=1", "--cfg", "job", "b=2"], ["--cfg", "job", "a=1", "b=2"]),
        (["x=1", "--info", "defaults"], ["--info", "defaults", "x=1"]),
        (["--info", "x=1"], ["--info", "x=1"]),
        (["m=1", "-cn", "config", "--cfg=job"], ["-cn", "config", "--cfg=job", "m=1"]),
    ],
)
def test_flags_may_follow_overrides(argv, expected):
    """Hydra's own parser wants its flags first; the scripts reorder the command line for it."""
    assert flags_first(argv) == expected


def test_multirun_preview_lists_every_job():
    msg, text = precheck(
        ["--cfg", "job", "-m", "experiment=table2_embedded", "share_prefill=false"], validate=True
    )
    assert msg is None and text.startswith("# 8 job(s)")
    assert "# job 0: method=fullkv experiment=table2_embedded" in text and "num_samples: 12" in text
    msg, text = precheck(["-c", "hydra", "-m", "method=asl,fullkv", "seed=1,2", "share_prefill=false"])
    assert text.startswith("# 4 job(s)") and "sweeper:" in text
    # shared prefills (the default): the jobs that differ only in their method are one job
    msg, text = precheck(["--cfg", "job", "-m", "experiment=table2_embedded"], validate=True)
    assert (
        msg is None
        and text.startswith("# 1 job(s)")
        and "run.share_group=[['method=fullkv'],['method=snapkv']" in text
    )
    msg, text = precheck(["-c", "hydra", "-m", "method=asl,fullkv", "seed=1,2"])
    assert text.startswith("# 2 job(s)") and "# job 1: seed=2 method=asl run.share_group=" in text


@pytest.mark.parametrize(
    "argv, text",
    [
        (["method.tua=0.5"], "unknown key 'method.tua': method asl (ASL) has no 'tua'; its keys: force_layer, kv_before, kv_budget"),
        (["seed=abc"], "seed must be an integer, got 'abc'"),
        (["method=fullkv", "method.kv_budget=256"], "method fullkv (Full KV) has no 'kv_budget'; its keys: name"),
        (["-m", "method=fullkv,snapkv", "method.kv_budget=256"], "job method=fullkv method.kv_budget=256: unknown key"),
        (["-m", "experiment=table2_embedded", "++method_overrides.tau=2"], "job method=asl experiment=table2_embedded ++method_overrides.tau=2: asl: tau must be in (0, 1]"),
        (["colour=red"], "unknown key 'colour': the config has no 'colour'; its keys: allow_dirty, benchmark"),
        (["-m", "method=asl,nope"], "unknown method 'nope'; choices: asl"),
    ],
)  # fmt: skip
def test_errors_name_the_key_and_the_valid_ones(argv, text):
    msg, _ = precheck(argv, validate=True)
    assert msg is not None and text in msg and "\n" not in msg


def script(name: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "scripts" / name), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=cwd or ROOT, env=env)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_prints_its_config_and_help(name, tmp_path):
    proc = script(name, "--cfg", "job", "results_dir=" + str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"results_dir: {tmp_path}" in proc.stdout and not list(tmp_path.iterdir())  # nothing was run
    helped = script(name, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "infinitebench_embedded (context 1024" in helped.stdout and "ruler/fwe" in helped.stdout
    assert "asl: kv_budget, select_k" in helped.stdout


def test_run_multirun_preview_and_info_from_the_command_line(tmp_path):
    proc = script("run.py", "experiment=tau_sweep", "--cfg=job", "benchmark=infinitebench_embedded", "-m",
                  cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.startswith("# 2 job(s)") and "Traceback" not in proc.stderr
    )  # 3 methods x 4 tau shared per seed, 2 seeds
    separate = script("run.py", "experiment=tau_sweep", "--cfg=job", "benchmark=infinitebench_embedded", "-m",
                      "share_prefill=false", cwd=tmp_path)  # fmt: skip
    assert separate.returncode == 0 and separate.stdout.startswith(
        "# 24 job(s)"
    )  # 3 methods x 4 tau x 2 seeds
    info = script("run.py", "--info", "defaults", cwd=tmp_path)
    assert info.returncode == 0 and "Defaults List" in info.stdout
    bad = script("run.py", "method.tua=0.5", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "its keys:" in bad.stderr
