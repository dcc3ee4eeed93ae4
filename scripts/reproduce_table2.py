#!/usr/bin/env python
"""Reproduce the paper's Table 2 (InfiniteBench, every method) on one model and print it.

    python scripts/reproduce_table2.py                          # embedded SmolLM2-135M on CPU
    python scripts/reproduce_table2.py model=llama31_8b_ul      # paper setting on a GPU, beside the paper

CPU models (source embedded/tiny) use experiment=table2_embedded (calibrated embedded suite, budget 256),
the others experiment=table2 (infinitebench_paper, budget 2048); `experiment=...` picks one explicitly.
Other overrides pass through to scripts/run.py. Writes results/table2/<model>/table2.{csv,md}.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asl.harness.cli import CONFIG_DIR, fail, precheck  # noqa: E402

PROG = "reproduce_table2.py"


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=overrides)


def main(argv: list[str]) -> int:
    """Run the Table 2 multirun, then build and print the table."""
    from asl.harness.report import table2_report
    from asl.harness.store import atomic_write_text
    from asl.harness.tables import summary_rows, write_tables

    args = [a for a in argv if not a.startswith("-")]
    if not any(a.startswith("experiment=") for a in args):
        msg = precheck(args)
        if msg:
            fail(msg, PROG)
        source = str(_compose(args).model.get("source"))
        args = [f"experiment={'table2_embedded' if source in ('embedded', 'tiny') else 'table2'}", *args]
    msg = precheck(args)
    if msg:
        fail(msg, PROG)
    cfg = _compose(args)
    model, results_dir = str(cfg.model.name), Path(cfg.results_dir)
    print(f"Table 2 on {model}: {args[0]} -> {results_dir}", flush=True)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "-m", *args], cwd=ROOT)
    if proc.returncode != 0:
        return proc.returncode
    write_tables(results_dir, str(cfg.tables.ratio_baseline))
    csv_text, md = table2_report(summary_rows(results_dir), model)
    atomic_write_text(results_dir / "table2.csv", csv_text)
    atomic_write_text(results_dir / "table2.md", md + "\n")
    print(md)
    print(f"\nwrote {results_dir / 'table2.csv'} and {results_dir / 'table2.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
