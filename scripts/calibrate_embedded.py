"""Calibrate the embedded benchmark suites: FullKV (HF greedy generate) accuracy and time per task.

Usage:
    python scripts/calibrate_embedded.py --suite configs/benchmark/infinitebench_embedded.yaml [--out table.md]
    python scripts/calibrate_embedded.py --candidates        # the wider sweep used to choose the suites

Prompts are built with eval's own builder (profile from the config, default chat); generation is
``model.generate(ids, max_new_tokens=..., do_sample=False)``, equivalent to the engine's FullKV; predictions
are scored with ``eval.scoring.score`` exactly as the runner and ``eval.rescore`` score them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asl import load_model  # noqa: E402
from eval.prompts import build_prompt_ids  # noqa: E402
from eval.scoring import score  # noqa: E402
from eval.suite import load_examples  # noqa: E402

# (family, task, context_length, num_samples, max_new_tokens cap) swept to choose the embedded suites.
CANDIDATES = [
    ("infinitebench", "passkey", 1024, 5, None),
    ("infinitebench", "kv_retrieval_short", 1024, 5, 16),
    ("ruler", "niah_single_1", 1024, 5, 24),
    ("ruler", "vt", 1024, 5, 30),
    ("ruler", "fwe", 1024, 5, 24),
    ("ruler", "niah_multikey_3", 1024, 5, 40),
    ("ruler", "cwe", 1024, 5, 60),
    ("niah", "niah_asl", 1024, 5, None),
    ("infinitebench", "kv_retrieval", 1024, 5, 32),
    ("ruler", "niah_multikey_2", 1024, 5, 24),
    ("infinitebench", "number_string", 1024, 5, None),
    ("infinitebench", "math_find", 1024, 7, None),
    ("infinitebench", "code_run", 1024, 5, None),
    ("ruler", "niah_single_2", 1024, 5, 24),
    ("niah", "niah_kv", 1024, 5, None),
    ("infinitebench", "passkey", 2048, 5, None),
]
# NIAH candidates: num_samples is rounds per (length, depth) cell; niah_kv is raw text as in niah_kv.yaml.
CANDIDATE_OVERRIDES = {
    "niah_asl": {"depths": [0, 25, 50, 75, 100], "num_samples": 1},
    "niah_kv": {"depths": [0, 25, 50, 75, 100], "num_samples": 1, "profile": "official"},
}


def run_examples(model, tok, examples, stop_ids) -> list[dict]:
    """Greedy FullKV generation for each example; returns per-example score, time and prediction."""
    rows = []
    for ex in examples:
        ids, _ = build_prompt_ids(ex, tok, ex.meta.get("profile", "chat"), ex.meta.get("max_prompt_tokens"))
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            out = model.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=ex.max_new_tokens, do_sample=False, eos_token_id=stop_ids, pad_token_id=stop_ids[0],
            )  # fmt: skip
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        pred = tok.decode(out[0, len(ids) :], skip_special_tokens=True)  # niah_kv: the scorer cuts at "\n"
        rows.append(
            {
                "task": ex.task,
                "length": ex.meta.get("length"),
                "score": score(ex, pred),
                "s": dt,
                "cpu_s": cpu,
                "pred": pred,
                "answers": ex.answers,
                "n_ids": len(ids),
            }
        )
    return rows


def summarise(rows: list[dict]) -> list[tuple]:
    """(task, length, n, accuracy %, wall seconds, CPU seconds) per (task, length)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["length"]), []).append(r)
    return [
        (
            t,
            L,
            len(g),
            100 * sum(r["score"] for r in g) / len(g),
            sum(r["s"] for r in g),
            sum(r["cpu_s"] for r in g),
        )
        for (t, L), g in groups.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", action="append", default=[], help="benchmark YAML (repeatable)")
    parser.add_argument("--candidates", action="store_true", help="run the candidate sweep")
    parser.add_argument("--only", default=None, help="comma-separated task filter for --candidates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", default=None, help="append the markdown table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tok = load_model("smollm2_135m", device="cpu")
    model.eval()
    stop_ids = [tok.convert_tokens_to_ids(t) for t in model.asl_spec.stop_tokens]
    with torch.no_grad():  # warm-up so that the first task's time is not inflated
        model(torch.tensor([tok.encode("warm up " * 64)]), logits_to_keep=1)
    cfgs = []
    for path in args.suite:
        cfgs.append(yaml.safe_load(Path(path).read_text()))
    if args.candidates:
        only = set(args.only.split(",")) if args.only else None
        for fam, task, L, n, cap in CANDIDATES:
            if only is None or task in only:
                cfgs.append(
                    {
                        "name": f"cand-{task}",
                        "family": fam,
                        "tasks": [task],
                        "context_length": L,
                        "num_samples": n,
                        "profile": "chat",
                        "max_new_tokens": cap,
                        **CANDIDATE_OVERRIDES.get(task, {}),
                    }
                )
    all_rows, lines = [], []
    for cfg in cfgs:
        t0 = time.perf_counter()
        examples = load_examples(cfg, tok, args.seed)
        gen_s = time.perf_counter() - t0
        rows = run_examples(model, tok, examples, stop_ids)
        all_rows += rows
        for r in rows if args.verbose else []:
            print(
                f"  {r['task']} {r['length']} {r['n_ids']} score={r['score']:.2f} pred={r['pred']!r} gold={r['answers']}",
                flush=True,
            )
        for t, L, n, acc, s, cpu in summarise(rows):
            line = f"| {cfg.get('name')} | {t} | {L} | {n} | {acc:.1f} | {s:.1f} | {cpu:.1f} |"
            lines.append(line)
            print(line, f"(build {gen_s:.1f}s)", flush=True)
    total, total_cpu = sum(r["s"] for r in all_rows), sum(r["cpu_s"] for r in all_rows)
    print(f"total generation seconds: {total:.1f} wall, {total_cpu:.1f} CPU")
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(
                "| suite | task | length | n | FullKV acc % | wall s | CPU s |\n|---|---|---|---|---|---|---|\n"
            )
            fh.write(
                "\n".join(lines) + f"\n\nTotal generation time: {total:.1f} s ({args.threads} threads)\n\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
