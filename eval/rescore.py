"""Re-score saved predictions without the model: ``python -m eval.rescore PATH/predictions.jsonl``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eval.datasources import read_jsonl
from eval.scoring import aggregate, score


def rescore_records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Add ``score`` to each record; return them and per-task summaries (score %, n, nulls)."""
    per_task: dict[str, list[float]] = {}
    nulls: dict[str, int] = {}
    out = []
    for rec in records:
        rec = {**rec, "score": score(rec, str(rec.get("prediction") or ""))}
        key = f"{rec.get('benchmark', '')}/{rec.get('task', '')}".lstrip("/")
        per_task.setdefault(key, []).append(rec["score"])
        nulls[key] = nulls.get(key, 0) + int(not str(rec.get("prediction") or "").strip())
        out.append(rec)
    summary = {k: {"score": aggregate(v), "n": len(v), "nulls": nulls[k]} for k, v in per_task.items()}
    return out, summary


def rescore_file(path: str | Path, out: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Re-score a predictions.jsonl; optionally write the scored records to ``out``."""
    records = [rec for _, rec in read_jsonl(path)]
    scored, summary = rescore_records(records)
    if out is not None:
        with open(out, "w", encoding="utf-8") as fh:
            for rec in scored:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: prints a per-task table and a JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", help="predictions.jsonl with id, task, prediction, answers, metric, options")
    parser.add_argument("--out", help="write re-scored records here")
    args = parser.parse_args(argv)
    summary = rescore_file(args.path, args.out)
    for task, row in summary.items():
        print(f"{task:40s} {row['score']:7.2f}  n={row['n']}  nulls={row['nulls']}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
