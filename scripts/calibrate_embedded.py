"""Calibrate the embedded benchmark suites: FullKV (HF greedy generate) accuracy and time per task.

Usage (a Hydra app; defaults in configs/calibrate.yaml):
    python scripts/calibrate_embedded.py out=table.md                  # the three embedded suites
    python scripts/calibrate_embedded.py suites=[] candidates=true      # the wider sweep used to choose them

Prompts are built with eval's own builder (profile from the config, default chat); generation is
``model.generate(ids, max_new_tokens=..., do_sample=False)``, equivalent to the engine's FullKV; predictions
are scored with ``eval.scoring.score`` exactly as the runner and ``eval.rescore`` score them.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from asl.config_groups import compose_node
from asl.harness.cli import fail, precheck_or_exit
from asl.harness.validation import one_line
from asl.paths import CONFIG_DIR

PROG = "calibrate_embedded.py"


def run_examples(model, tok, examples, stop_ids) -> list[dict]:
    """Greedy FullKV generation for each example; returns per-example score, time and prediction."""
    from eval.prompts import build_prompt_ids
    from eval.scoring import score

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


def suite_configs(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The benchmark nodes to calibrate: the named suites, then the candidate tasks."""
    out = [compose_node("benchmark", name) for name in cfg["suites"]]
    if cfg["candidates"]:
        only = set(cfg["only"]) if cfg["only"] else None
        for family, task, length, n, cap, extra in cfg["candidate_tasks"]:
            if only is None or task in only:
                node = {"name": f"cand-{task}", "family": family, "tasks": [task], "context_length": length}
                out.append(node | {"num_samples": n, "profile": "chat", "max_new_tokens": cap, **extra})
    if not out:
        raise ValueError("nothing to calibrate: give suites=[...] or candidates=true")
    return out


def calibrate(cfg: dict[str, Any]) -> None:
    """Run every suite with FullKV and print (and optionally append) the calibration table."""
    from asl import load_model
    from asl.models import ModelSpec
    from eval.suite import load_examples

    suites = suite_configs(cfg)
    torch.set_num_threads(int(cfg["threads"]))
    model, tok = load_model(ModelSpec.from_config(cfg["model"]), device="cpu")
    stop_ids = [tok.convert_tokens_to_ids(t) for t in model.asl_spec.stop_tokens]
    with torch.no_grad():  # warm-up so that the first task's time is not inflated
        model(torch.tensor([tok.encode("warm up " * 64)]), logits_to_keep=1)
    all_rows, lines = [], []
    for suite in suites:
        t0 = time.perf_counter()
        examples = load_examples(suite, tok, int(cfg["seed"]))
        gen_s = time.perf_counter() - t0
        rows = run_examples(model, tok, examples, stop_ids)
        all_rows += rows
        for r in rows if cfg["verbose"] else []:
            print(
                f"  {r['task']} {r['length']} {r['n_ids']} score={r['score']:.2f} pred={r['pred']!r} gold={r['answers']}"
            )
        for t, length, n, acc, s, cpu in summarise(rows):
            line = f"| {suite.get('name')} | {t} | {length} | {n} | {acc:.1f} | {s:.1f} | {cpu:.1f} |"
            lines.append(line)
            print(line, f"(build {gen_s:.1f}s)", flush=True)
    total, total_cpu = sum(r["s"] for r in all_rows), sum(r["cpu_s"] for r in all_rows)
    print(f"total generation seconds: {total:.1f} wall, {total_cpu:.1f} CPU")
    if cfg["out"]:
        with open(cfg["out"], "a", encoding="utf-8") as fh:
            fh.write(
                "| suite | task | length | n | FullKV acc % | wall s | CPU s |\n|---|---|---|---|---|---|---|\n"
            )
            fh.write(
                "\n".join(lines) + f"\n\nTotal generation time: {total:.1f} s ({cfg['threads']} threads)\n\n"
            )


@hydra.main(config_path=str(CONFIG_DIR), config_name="calibrate", version_base=None)
def main(cfg: DictConfig) -> None:
    """Calibrate the suites of the composed config."""
    try:
        calibrate(OmegaConf.to_container(cfg, resolve=True))
    except (ValueError, OSError) as exc:
        fail(one_line(exc), PROG)


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], PROG, config_name="calibrate")
    main()
