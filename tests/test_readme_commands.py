"""Every command in the README is run here (or by CI): scripts are composed and validated job by job, make
targets expand to such scripts, the sweeps are exactly the grids the README describes, and the Python
example and the docstring example of scripts/run.py run for real on the embedded model."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from asl.harness.cli import precheck
from asl.harness.sweep import expand_jobs, hydra_context
from asl.paths import CONFIG_DIR
from tests.runner_fakes import ROOT

README = (ROOT / "README.md").read_text()
#: commands that need a CUDA machine: their make target is still expanded below, the rest is GPU set-up
GPU_SETUP = {
    "conda env create -f environment.yml && conda activate asl-bench": "CUDA set-up (environment.yml)",
    "pip install flash-attn --no-build-isolation": "optional CUDA kernel",
}
#: make targets run for real elsewhere: `make test` by CI (.ci/run)
RUN_BY_CI = {"test"}


def fenced(language: str) -> list[str]:
    """The README's fenced blocks of ``language``."""
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    """Every shell command of the README (continuations joined, comments and `;` lists split)."""
    out = []
    for block in fenced("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                out += [c.strip() for c in line.split("; ")]
    return out


def script_args(command: str) -> tuple[str, list[str]]:
    """(script name, its arguments) of ``.venv/bin/python scripts/NAME.py ARGS``."""
    words = shlex.split(command)
    return Path(words[1]).name, words[2:]


def make_lines(target_and_vars: list[str]) -> list[str]:
    """The commands `make -n` would run for a target (the venv pointed nowhere: nothing is installed)."""
    proc = subprocess.run(["make", "-n", *target_and_vars, "VENV=/nonexistent-venv"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [ln for ln in proc.stdout.splitlines() if "scripts/" in ln]


def check_lm_eval(args: list[str]) -> None:
    """scripts/lm_eval.py is lm-eval's own CLI (not a Hydra app): its model is ours and its task exists."""
    flags = dict(zip(args[1::2], args[2::2], strict=False)) if args[:1] == ["run"] else {}
    assert flags.get("--model") == "asl-bench", args
    tasks = ROOT / flags["--include_path"]
    assert all((tasks / task / f"{task}.yaml").is_file() for task in flags["--tasks"].split(",")), args


def check_script(command: str, tmp_path: Path) -> None:
    name, args = script_args(command)
    if name == "lm_eval.py":
        return check_lm_eval(args)
    args = [a for a in args if not a.startswith("results_dir=")] + [f"results_dir={tmp_path}"]
    msg, _ = precheck(args, validate=name == "run.py")
    assert msg is None, f"{command}: {msg}"


def test_every_readme_command_is_known():
    for command in commands():
        assert command.startswith((".venv/bin/python scripts/", "make ")) or command in GPU_SETUP, command


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith(".venv/bin/python scripts/")])
def test_readme_script_commands_compose_and_validate(command, tmp_path):
    check_script(command, tmp_path)


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("make ")])
def test_readme_make_targets_expand_to_valid_commands(command, tmp_path):
    target = shlex.split(os.path.expandvars(command))[1:]
    lines = make_lines(target)
    if target[0] in RUN_BY_CI:
        return
    assert lines, f"{command}: no script in its recipe"
    for line in lines:
        words = shlex.split(line)
        start = next(i for i, w in enumerate(words) if w.endswith("python"))
        check_script(" ".join(shlex.quote(w) for w in words[start:]), tmp_path)


def sweep_jobs(target: str) -> list[dict[str, str]]:
    """The jobs `make TARGET` launches on the embedded model, as {key: value} of their overrides."""
    line = next(ln for ln in make_lines([target]) if "scripts/run.py" in ln)
    args = [a for a in shlex.split(line) if "=" in a and not a.startswith("HF_HUB")]
    with hydra_context(CONFIG_DIR):
        jobs = expand_jobs("config", args)
    return [dict(o.lstrip("+").split("=", 1) for o in job) for job in jobs]


def test_make_sweep_tau_is_the_readme_grid():
    jobs = sweep_jobs("sweep-tau")
    assert {j["method"] for j in jobs} == {"fullkv", "asl", "asl_fullbefore"}
    assert sorted({float(j["method_overrides.tau"]) for j in jobs}) == [0.3, 0.5, 0.7, 1.0]
    assert {j["benchmark"] for j in jobs} == {"infinitebench_embedded"}  # the Table 2 suite
    assert "tau = 0.3/0.5/0.7/1.0 on the Table 2 suite" in README


def test_make_sweep_budget_is_the_readme_grid():
    from asl import build_method, list_methods

    jobs = sweep_jobs("sweep-budget")
    with_budget = {m for m in list_methods() if "kv_budget" in build_method(m).to_dict()}
    swept = {j["method"] for j in jobs}
    # every method with a budget but the Full-before variants and the generic press entry (its variants run)
    expected = {m for m in with_budget if not m.endswith("_fullbefore") and m != "kvpress"}
    assert swept >= expected and "fullkv" in swept and "kvpress" not in swept
    assert {"kvpress_knorm", "kvpress_expected_attention", "kvpress_tova"} <= swept
    assert sorted({int(j["method_overrides.kv_budget"]) for j in jobs}) == [128, 256, 512]
    assert {j["benchmark"] for j in jobs} == {"ruler_embedded"}
    assert "C = 128/256/512 on RULER embedded, every method with a budget" in README


def _python(code: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@pytest.mark.embedded
def test_readme_python_example_runs(tmp_path):
    (block,) = fenced("python")
    proc = _python(block, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| task | n | errors | accuracy [95% CI] |" in proc.stdout
    assert (tmp_path / "results").is_dir()  # relative results_dir: under the working directory


@pytest.mark.embedded
def test_run_py_docstring_example_runs_and_prints_its_table(tmp_path):
    doc = (ROOT / "scripts" / "run.py").read_text().split('"""')[1]
    example = doc.split("\n\n")[1].replace("\\\n", " ").splitlines()[0].split("#")[0]
    assert example.strip().startswith("python scripts/run.py model=smollm2_135m")
    args = shlex.split(example)[2:] + [f"results_dir={tmp_path}", "logger.wandb.mode=disabled"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| passkey | 2 | 0 |" in proc.stdout and "run dir: " in proc.stdout
