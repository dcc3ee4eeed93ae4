"""One end-to-end ``scripts/run.py`` experiment on CUDA, on the embedded model's architecture.

The embedded checkpoint is used when it is cached. Otherwise (a GPU machine with nothing downloaded) a
random-weight checkpoint is built from a folder holding the model's ``config.json`` and tokenizer files,
so prompts, chat template and stop tokens are the real ones and only the weights are random.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from asl.gpucheck.summary import Summary
from asl.paths import REPO_ROOT

MODEL = "smollm2_135m"
TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "generation_config.json",
)


def random_checkpoint(tokenizer_dir: Path, cache: Path) -> Path:
    """``cache``/smollm2_135m: random weights of ``tokenizer_dir``'s config.json, plus its tokenizer files."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    target = cache / MODEL
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    missing = [
        f
        for f in ("config.json", "tokenizer.json", "tokenizer_config.json")
        if not (tokenizer_dir / f).is_file()
    ]
    if missing:
        raise FileNotFoundError(f"{tokenizer_dir} lacks {', '.join(missing)}")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(tokenizer_dir), dtype=torch.float32)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    for name in TOKENIZER_FILES[1:]:
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, target / name)
    return target


def end_to_end(summary: Summary, section: str, cfg: Any, out_dir: Path, device: str = "cuda") -> None:
    """scripts/run.py with ``cfg.e2e_overrides`` on ``device``; PASS when every sample ran without error
    and the engine reports the device's default decode mode (static on CUDA)."""
    from asl.models import get_model_spec
    from asl.models.embedded import checkpoint_dir

    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    real = checkpoint_dir(get_model_spec(MODEL))
    weights, cache = "pretrained", None
    if not any(real.glob("*.safetensors")):
        if not cfg.tokenizer_dir:
            summary.add(
                section, "SKIP", f"no {MODEL} checkpoint and no tokenizer_dir: end-to-end run skipped"
            )
            return
        cache = Path(tempfile.mkdtemp(prefix="asl-gpu-check-"))  # 0.5 GB of weights: kept out of out_dir
        random_checkpoint(Path(cfg.tokenizer_dir), cache)
        env["ASL_BENCH_CACHE"] = str(cache)
        weights = "random"
    results = out_dir / "e2e"
    cmd = [sys.executable, str(REPO_ROOT / "scripts" / "run.py"), f"model={MODEL}", f"device={device}"]
    cmd += [*cfg.e2e_overrides, f"results_dir={results}"]
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=max(summary.left_s(), 30)
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        summary.add(section, "FAIL", f"scripts/run.py exited {proc.returncode}: {tail[0]}")
        return
    runs = list(results.rglob("run_meta.json"))
    meta = json.loads(runs[0].read_text()) if runs else {}
    errors = sum(
        1
        for p in results.rglob("predictions.jsonl")
        for ln in p.read_text().splitlines()
        if json.loads(ln).get("error")
    )
    engine = meta.get("engine") or {}
    mode = "static" if device == "cuda" else "eager"
    ok = meta.get("status") == "complete" and errors == 0 and engine.get("decode_mode") == mode
    summary.add(
        section,
        "PASS" if ok else "FAIL",
        f"scripts/run.py {MODEL} ({weights} weights) on {device}: status {meta.get('status')}, {errors} sample errors, "
        f"engine {engine}",
    )
