"""`make bench-sharing`: Table 2's method settings on Table 2's prompts, one prefill per method vs one shared
prefill (``asl.engine.generate_many``), interleaved prompt by prompt; predictions must be identical.

    python scripts/bench_sharing.py                       # embedded model, 3 samples per task
    python scripts/bench_sharing.py --samples 12 --experiment table2_embedded

The last line reads ``shared/separate: <ratio>`` (wall time of the whole set, both sides on the same
prompts in the same process, the order alternating per prompt).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from hydra import compose, initialize_config_dir

from asl import generate, generate_many, load_model
from asl.harness.config import resolve_run_method
from asl.models.registry import ModelSpec
from asl.paths import CONFIG_DIR
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
    warm = build_prompt_ids(examples[0], tokenizer, profile)[0]
    generate_many(model, tokenizer, warm, methods, max_new_tokens=2, ignore_eos=True)  # warm-up, untimed
    for index, example in enumerate(examples):
        ids, _ = build_prompt_ids(example, tokenizer, profile, (example.meta or {}).get("max_prompt_tokens"))
        kw = dict(max_new_tokens=int(example.max_new_tokens or 32))
        order = ("separate", "shared") if index % 2 == 0 else ("shared", "separate")
        for side in order:
            start = time.perf_counter()
            if side == "separate":
                alone = []
                for i, method in enumerate(methods):
                    t0 = time.perf_counter()
                    alone.append(generate(model, tokenizer, ids, method, **kw))
                    per_method[i] += time.perf_counter() - t0
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
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"shared/separate: {shared_s / separate_s:.3f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
