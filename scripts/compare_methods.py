"""Side-by-side run of every method on a few generated prompts (answers, selection layer, ratios to FullKV).

    python scripts/compare_methods.py --model smollm2_135m --context 4096 --budget 256 \
        --tasks infinitebench/passkey ruler/niah_multikey_2

Timings are ratios to FullKV measured in the same process, one method after the other on the same prompt
(one warm-up per prompt, then ``--repeats`` timed runs per method; medians). The dedicated efficiency
procedure is scripts/bench_efficiency.py; this script is about answers and selection layers. Writes results/compare/<model>/compare.{csv,md}.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

from asl import build_method, generate, load_model
from eval.prompts import build_prompt_ids
from eval.scoring import score
from eval.suite import load_examples

METHODS = [
    "fullkv",
    "snapkv",
    "gemfilter",
    "fastkv",
    "asl",
    "asl_2pass",
    "fastkv_fullbefore",
    "asl_fullbefore",
]


def run_task(
    model, tokenizer, task: str, context: int, budget: int, seed: int, repeats: int, cap: int
) -> list[dict]:
    suite = {
        "family": "mixed",
        "tasks": [task],
        "context_length": context,
        "num_samples": 1,
        "profile": "chat",
    }
    example = load_examples(suite, tokenizer, seed)[0]
    ids, _ = build_prompt_ids(example, tokenizer, "chat", example.meta.get("max_prompt_tokens"))
    rows = []
    generate(model, tokenizer, ids, build_method("fullkv"), max_new_tokens=2)  # warm-up
    for name in METHODS:
        method = build_method(name) if name == "fullkv" else build_method(name, kv_budget=budget)
        runs = [
            generate(model, tokenizer, ids, method, max_new_tokens=min(cap, example.max_new_tokens))
            for _ in range(repeats)
        ]
        first = runs[0]
        rows.append(
            {
                "task": task.split("/")[-1],
                "method": name,
                "prompt_tokens": first.prompt_tokens,
                "answer": first.text.strip().replace("\n", " ")[:60],
                "gold": str(example.answers[0]),
                "score": score(example, first.text),
                "selection_layer": first.selection_layer,
                "ttft_s": statistics.median(r.ttft_s for r in runs),
                "tpot_s": statistics.median(r.tpot_s for r in runs if r.tpot_s is not None)
                if first.tpot_s
                else None,
                "kv_cache_bytes": first.kv_cache_bytes,
            }
        )
    full = rows[0]
    for row in rows:
        row["ttft_ratio"] = row["ttft_s"] / full["ttft_s"]
        row["tpot_ratio"] = row["tpot_s"] / full["tpot_s"] if row["tpot_s"] and full["tpot_s"] else None
    return rows


def markdown(rows: list[dict]) -> str:
    head = "| task | method | answer | gold | score | sel. layer | TTFT / Full | TPOT / Full | KV MiB |\n|---|---|---|---|---|---|---|---|---|\n"
    body = "".join(
        f"| {r['task']} | {r['method']} | {r['answer']} | {r['gold']} | {r['score']:.2f} | {r['selection_layer']} | "
        f"{r['ttft_ratio']:.2f} | {r['tpot_ratio'] if r['tpot_ratio'] is None else format(r['tpot_ratio'], '.2f')} | "
        f"{r['kv_cache_bytes'] / 2**20:.2f} |\n"
        for r in rows
    )
    return head + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2_135m")
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--budget", type=int, default=256)
    parser.add_argument("--tasks", nargs="+", default=["infinitebench/passkey", "ruler/niah_multikey_2"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=32, help="cap on the task's generation budget")
    parser.add_argument("--out", default="results/compare")
    args = parser.parse_args(argv)
    try:
        model, tokenizer = load_model(args.model)
        rows = [
            r
            for task in args.tasks
            for r in run_task(
                model,
                tokenizer,
                task,
                args.context,
                args.budget,
                args.seed,
                args.repeats,
                args.max_new_tokens,
            )
        ]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) / args.model
    out.mkdir(parents=True, exist_ok=True)
    with (out / "compare.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = markdown(rows)
    (out / "compare.md").write_text(
        f"Budget {args.budget}, context {args.context}, model {args.model}\n\n" + table
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
