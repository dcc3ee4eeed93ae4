"""The run identity is complete (issue 19): every setting that can change a result changes the run
directory, so a run never resumes another's directory and tables never merge the two; overrides that
cannot apply and bad paths are one-line errors before any model loads; Ctrl-C is one line, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from asl.harness.config import cli_override_keys, identity, model_settings, run_dir_for
from asl.harness.sweep import compose_job, hydra_context
from asl.harness.validation import HarnessError, check_paths
from asl.paths import CONFIG_DIR
from asl.results.tables import unique_settings

ROOT = Path(__file__).resolve().parents[1]
BASE = ["model=llama31_8b_ul", "benchmark=ruler", "method=snapkv", "device=cpu"]

# setting -> an override that changes it (each one changes what the model computes or reads)
SETTINGS = {
    "dtype": ["dtype=float32"],
    "model path": ["model.path=/models/other-checkpoint"],
    "attention implementation": ["model.attn_implementation=eager"],
    "device type": ["device=cuda"],
    "layer preset": ["model.layer_preset=reference"],
    "chat template": ["model.chat_template=false"],
    "benchmark profile": ["benchmark.profile=official"],
    "haystack": ["benchmark.haystack=essay:/data/essays"],
}


def run_dir(overrides: list[str]) -> Path:
    with hydra_context(CONFIG_DIR):
        cfg = compose_job("config", [*BASE, *overrides])
    from asl.harness.config import resolve_run_method

    _, method = resolve_run_method(cfg, cli_override_keys(overrides))
    return run_dir_for("results", identity(cfg, method.to_config()))


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_each_setting_changes_the_run_directory(setting: str) -> None:
    assert run_dir(SETTINGS[setting]) != run_dir([])


def test_a_model_revision_is_in_the_identity_and_cannot_be_ignored() -> None:
    """No loader reads ``model.revision`` yet: setting it is an error, never silently ignored; the identity
    already carries it (a revision pinned in a model YAML would change the hash)."""
    with hydra_context(CONFIG_DIR):
        cfg = compose_job("config", [*BASE, "+model.revision=0123abcd"])
    assert model_settings(cfg)["revision"] == "0123abcd"
    with pytest.raises(HarnessError, match="unknown keys \\['revision'\\]"):
        run_dir(["+model.revision=0123abcd"])


def test_model_settings_record_the_effective_dtype_and_device() -> None:
    with hydra_context(CONFIG_DIR):
        cfg = compose_job("config", [*BASE, "dtype=bfloat16"])
    got = model_settings(cfg)
    assert got["dtype"] == "bfloat16" and got["device_type"] == "cpu" and got["path"].startswith("nvidia/")


def test_runs_that_differ_in_a_setting_are_never_one_table_row() -> None:
    def run(settings: dict, n: int) -> SimpleNamespace:
        summary = SimpleNamespace(model="m", benchmark="b", method={"name": "snapkv"}, seed=0,
                                  settings=settings, overall=SimpleNamespace(n=n))  # fmt: skip
        return SimpleNamespace(summary=summary, run_dir=f"d{n}")

    fp32, bf16 = run({"dtype": "float32"}, 5), run({"dtype": "bfloat16"}, 7)
    assert len(unique_settings([fp32, bf16])) == 2  # not merged, and not one dropped for the other
    assert len(unique_settings([fp32, run({"dtype": "float32"}, 6)])) == 1


def _cfg(tmp_path: Path, **model: str) -> SimpleNamespace:
    node = {"name": "x", "source": "hf", "path": "org/name", **model}
    get = node.get
    return SimpleNamespace(
        model=SimpleNamespace(get=get, name=node["name"]), results_dir=str(tmp_path / "res")
    )


def test_path_errors_name_their_key(tmp_path: Path) -> None:
    check_paths(_cfg(tmp_path))  # a Hub id and a creatable results_dir: fine
    with pytest.raises(HarnessError, match="model.path: no such directory: /nonexistent/ckpt"):
        check_paths(_cfg(tmp_path, path="/nonexistent/ckpt"))
    with pytest.raises(HarnessError, match="model.path cannot apply to x .source: embedded"):
        check_paths(_cfg(tmp_path, source="embedded"), {"model.path"})
    (tmp_path / "file").write_text("")
    cfg = _cfg(tmp_path)
    cfg.results_dir = str(tmp_path / "file" / "sub")
    with pytest.raises(HarnessError, match="results_dir: .*file is a file, not a directory"):
        check_paths(cfg)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cfg.results_dir = str(locked / "r")
        with pytest.raises(HarnessError, match="results_dir: .* is not writable"):
            check_paths(cfg)


def run_py(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "scripts" / "run.py"), "logger.wandb.mode=disabled", *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **kw
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["model.path=/tmp/elsewhere"], "model.path cannot apply to smollm2_135m (source: embedded"),
        (
            ["model=llama31_8b_ul", "model.path=/nonexistent/ckpt", "benchmark.context_length=1024"],
            "model.path: no such directory: /nonexistent/ckpt",
        ),  # fmt: skip
        (["results_dir=/dev/null/x"], "results_dir: /dev/null is a file, not a directory"),
    ],
)
def test_cli_path_errors_are_one_line_before_loading(args: list[str], message: str) -> None:
    proc = run_py(*args)
    _, err = proc.communicate(timeout=300)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], err[-2000:]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process group")
def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """The handler turns an interrupt anywhere in the run into one line and exit code 130."""
    proc = run_py(f"results_dir={tmp_path}", "benchmark.num_samples=1", "run.progress=false",
                  start_new_session=True)  # fmt: skip
    time.sleep(8)  # composing, validating, importing torch: well inside the run
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt")
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert proc.returncode == 130, err[-2000:]
    assert lines[-1].startswith("run.py: interrupted") and not any("Traceback" in line for line in lines)
