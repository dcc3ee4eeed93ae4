#!/usr/bin/env python
"""TTFT / TPOT / memory / KV-size benchmark of the pruning methods (methods.md §10).

Defaults live in configs/efficiency/default.yaml (per model: a profile of lengths, budgets, warm-ups,
repeats and decode steps); flags override them. Outputs go to results/efficiency/<model>/.

    scripts/bench_efficiency.py --model smollm2_135m            # embedded model on CPU, 1k-7.5k
    scripts/bench_efficiency.py --model llama31_8b_ul           # random-weight Llama-3.1-8B (GPU, 16k-128k)
    scripts/bench_efficiency.py --tiny                          # seconds: tiny_llama (used by the tests)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asl.efficiency.bench import run  # noqa: E402
from asl.efficiency.setup import DEFAULT_CONFIG, load_settings  # noqa: E402


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def _kv(items: list[str]) -> dict[str, object]:
    import yaml

    return {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in items)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2_135m", help="registry name (configs/model/*.yaml)")
    p.add_argument("--tiny", action="store_true", help="shorthand for --model tiny_llama --profile tiny")
    p.add_argument("--profile", help="tiny | cpu | gpu (default: the model's entry in the config)")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--lengths", type=_ints, help="comma-separated context lengths")
    p.add_argument("--budgets", type=_ints, help="comma-separated KV budgets / k")
    p.add_argument("--methods", type=lambda t: t.split(","), help="comma-separated method names")
    p.add_argument("--warmups", type=int)
    p.add_argument("--repeats", type=int)
    p.add_argument("--decode-steps", type=int, dest="decode_steps")
    p.add_argument("--prompt", choices=["niah", "random"])
    p.add_argument("--seed", type=int)
    p.add_argument("--force-layer", type=int, dest="force_layer", help="force ASL's selection layer")
    p.add_argument("--no-monitor-overhead", dest="monitor_overhead", action="store_const", const=False)
    p.add_argument("--phase-memory", dest="phase_memory", action="store_const", const=True)
    p.add_argument(
        "--profile-ops",
        dest="profile_ops",
        action="store_const",
        const=True,
        help="profile at the longest length",
    )
    p.add_argument("--weights", choices=["pretrained", "random"])
    p.add_argument(
        "--arch-override", nargs="*", default=[], metavar="KEY=VALUE", help="random-arch config edits"
    )
    p.add_argument(
        "--threads", type=int, help="torch intra-op threads (CPU); 1 is steadier on busy shared cores"
    )
    p.add_argument("--rebuild", type=Path, metavar="DIR", help="recompute the reports in DIR from runs.jsonl")
    p.add_argument("--device")
    p.add_argument("--dtype")
    p.add_argument("--out-dir", dest="out_dir")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.rebuild:
        from asl.efficiency.rebuild import rebuild

        rows = rebuild(args.rebuild)
        print((args.rebuild / "efficiency.md").read_text())
        return 0
    if args.tiny:
        args.model, args.profile = "tiny_llama", args.profile or "tiny"
    keys = ("lengths", "budgets", "methods", "warmups", "repeats", "decode_steps", "prompt", "seed", "force_layer",
            "monitor_overhead", "phase_memory", "profile_ops", "threads", "weights", "device", "dtype", "out_dir")  # fmt: skip
    settings = load_settings(args.model, args.profile, args.config, **{k: getattr(args, k) for k in keys})
    if args.arch_override:
        settings.arch = {**settings.arch, **_kv(args.arch_override)}
    rows, out = run(settings)
    print((out / "efficiency.md").read_text())
    print(f"wrote {out}/efficiency.csv, efficiency.md, meta.json ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
