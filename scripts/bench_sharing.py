"""`make bench-sharing`: Table 2's method settings on Table 2's prompts, one prefill per method vs one shared
prefill (``asl.engine.generate_many``), interleaved prompt by prompt; predictions must be identical.

    python scripts/bench_sharing.py                       # embedded model, 3 samples per task
    python scripts/bench_sharing.py --samples 12 --experiment table2_embedded

The last line reads ``shared/separate: <ratio>`` (wall time of the whole set, both sides on the same
prompts in the same process, the order alternating per prompt). On the separate side the methods run in
an order that rotates from prompt to prompt; each method's TTFT and TPOT over Full KV's on the same prompt
give Table 2's ratio column: ``--out results/table2/<model>`` writes them to ``timing.csv`` there
(``asl/results/timing.py``), which ``make reproduce-table2`` reads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from asl import generate, generate_many, load_model
from asl.harness.config import resolve_run_method
from asl.models.registry import ModelSpec
from asl.paths import CONFIG_DIR
from asl.results.store import atomic_write_text
from asl.results.timing import TIMING_FILE, timing_csv, timing_ratios
from eval.prompts import build_prompt_ids
from eval.suite import load_examples


def compose_runs(experiment: str, samples: int, overrides: list[str]):
    """(config of the first method, resolved methods) of the experiment's method sweep."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        base = compose("config", overrides=[f"experiment={experiment}", *overrides], return_hydra_config=True)
        names = str(base.hydra.sweeper.params.method).split(",")
        methods, cfg = [], None
        for name in names:
            over = [
                f"experiment={experiment}",
                f"method={name}",
                f"benchmark.num_samples={samples}",
                *overrides,
            ]
            cfg = compose("config", overrides=over)
            methods.append(resolve_run_method(cfg)[1])
    return cfg, methods


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="table2_embedded")
    parser.add_argument("--samples", type=int, default=3, help="samples per task")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"folder for {TIMING_FILE} (per-method ratios)"
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=tiny_llama")
    args = parser.parse_args(argv)
    cfg, methods = compose_runs(args.experiment, args.samples, args.overrides)
    spec = ModelSpec.from_config(cfg.model)
    model, tokenizer = load_model(spec)
    examples = load_examples(cfg.benchmark, tokenizer, int(cfg.seed))
    profile = str(cfg.benchmark.get("profile", "chat"))
    labels = [m.label for m in methods]
    print(f"{len(methods)} settings ({', '.join(labels)}) x {len(examples)} prompts on {spec.name}")
    separate_s = shared_s = 0.0
    per_method = [0.0] * len(methods)
    mismatches = 0
    ttft: dict[str, list] = {m.name: [] for m in methods}
    tpot: dict[str, list] = {m.name: [] for m in methods}
    warm = build_prompt_ids(examples[0], tokenizer, profile)[0]
    generate_many(model, tokenizer, warm, methods, max_new_tokens=2, ignore_eos=True)  # warm-up, untimed
    for index, example in enumerate(examples):
        ids, _ = build_prompt_ids(example, tokenizer, profile, (example.meta or {}).get("max_prompt_tokens"))
        kw = dict(max_new_tokens=int(example.max_new_tokens or 32))
        order = ("separate", "shared") if index % 2 == 0 else ("shared", "separate")
        for side in order:
            start = time.perf_counter()
            if side == "separate":
                alone = [None] * len(methods)
                shift = index % len(methods)  # rotating order: no method always runs first
                for i in [*range(shift, len(methods)), *range(shift)]:
                    t0 = time.perf_counter()
                    alone[i] = res = generate(model, tokenizer, ids, methods[i], **kw)
                    per_method[i] += time.perf_counter() - t0
                    ttft[methods[i].name].append(res.ttft_s)
                    tpot[methods[i].name].append(res.tpot_s)
                separate_s += time.perf_counter() - start
            else:
                together = generate_many(model, tokenizer, ids, methods, **kw)
                shared_s += time.perf_counter() - start
        for a, b in zip(alone, together, strict=True):
            same = a.token_ids == b.token_ids and a.kv_lengths == b.kv_lengths
            mismatches += 0 if same and a.selection_layer == b.selection_layer else 1
        print(
            f"  prompt {index + 1}/{len(examples)} ({len(ids)} tokens): separate {separate_s:.1f} s, shared {shared_s:.1f} s"
        )
    print(
        "separate time per setting: "
        + ", ".join(f"{lab} {t:.1f} s" for lab, t in zip(labels, per_method, strict=True))
    )
    print(
        f"predictions identical: {len(examples) * len(methods) - mismatches} of {len(examples) * len(methods)}"
    )
    source = (f"make bench-sharing: {len(examples)} prompts of {args.experiment} on {spec.name}, each method alone "
              "in a rotating order, ratio to Full KV per prompt, mean and 95% t interval")  # fmt: skip
    rows = timing_ratios(ttft, tpot, {m.name: m.label for m in methods}, "fullkv", source)
    for row in rows:
        print(f"  {row.label}: TTFT / Full {row.ttft_ratio:.3f} [{row.ttft_lo:.3f}, {row.ttft_hi:.3f}], "
              f"TPOT / Full {row.tpot_ratio:.3f} [{row.tpot_lo:.3f}, {row.tpot_hi:.3f}]")  # fmt: skip
    if args.out is not None and not mismatches:
        atomic_write_text(args.out / TIMING_FILE, timing_csv(rows))
        print(f"wrote {args.out / TIMING_FILE}")
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"shared/separate: {shared_s / separate_s:.3f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
