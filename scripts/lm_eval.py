"""lm-evaluation-harness's command line with this harness's model registered as ``asl-bench``.

lm-eval 0.4.13 finds models only through imports (no entry points), so this script imports
``asl.lmeval`` and hands every argument to lm-eval's own CLI (all of its flags work: --tasks, --limit,
--log_samples, --output_path, --include_path, --apply_chat_template, ...)::

    .venv/bin/python scripts/lm_eval.py run --model asl-bench \\
        --model_args model=smollm2_135m,method=snapkv,kv_budget=256 \\
        --include_path eval/lm_eval_tasks --tasks asl_capitals --limit 4 --log_samples --output_path /tmp/lm
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# this file's folder (first on sys.path) would shadow the lm_eval package: the repository root replaces it
sys.path[0] = str(Path(__file__).resolve().parent.parent)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lm_eval.__main__ import cli_evaluate  # noqa: E402

import asl.lmeval  # noqa: E402,F401  (registers the asl-bench model)

if __name__ == "__main__":
    sys.exit(cli_evaluate())
