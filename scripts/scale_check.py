"""`make scale-check`: every method on the paper models' shapes on fake tensors; exits 1 when a check fails.

python scripts/scale_check.py                          # both models, 128K, every method
python scripts/scale_check.py --lengths 131072 262144 524288 1048576 --models llama31_8b_ul
python scripts/scale_check.py --methods fullkv snapkv asl@middle --out /tmp/sc
python scripts/scale_check.py --merge /tmp/a/scale_check.csv /tmp/b/scale_check.csv   # combine runs

The rows measured (or merged) replace their (model, method, length, phase) rows of the table already in
--out and keep the others: a 128K rerun leaves the committed 256K-1M rows in place (--fresh: start over).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from asl.scalecheck.check import LENGTHS, MODELS, Variant, check_model, variants
from asl.scalecheck.goals import goal_failures
from asl.scalecheck.report import merge_rows, model_page, read_csv, write_csv


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--lengths", nargs="+", type=int, default=[LENGTHS[0]])
    parser.add_argument("--methods", nargs="+", default=None, help="labels such as fullkv, asl@middle")
    parser.add_argument("--out", default="results/scale_check")
    parser.add_argument(
        "--compare", default=None, help="a committed scale_check.csv the measured rows must equal"
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        default=None,
        help="combine these scale_check.csv tables (no run): one CSV and the pages of their rows in --out",
    )
    parser.add_argument("--fresh", action="store_true", help="ignore the table already in --out")
    return parser.parse_args(argv)


def chosen_variants(labels: list[str] | None) -> list[Variant]:
    known = {v.label: v for v in variants()}
    if labels is None:
        return list(known.values())
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise SystemExit(f"error: unknown method label(s) {unknown}; known: {', '.join(known)}")
    return [known[label] for label in labels]


def compare_rows(rows, committed: Path) -> list[str]:
    """Rows whose measured bytes differ from the committed table's (the check is deterministic)."""
    with committed.open() as handle:
        table = {
            (r["model"], r["method"], int(r["context_length"]), r["phase"]): r for r in csv.DictReader(handle)
        }
    out = []
    for row in rows:
        old = table.get((row.model, row.method, row.context_length, row.phase))
        if old is None:
            out.append(f"{row.model} {row.method} {row.context_length} {row.phase}: not in {committed}")
        elif (
            int(old["peak_bytes"]) != row.peak_bytes
            or int(old["largest_tensor_bytes"]) != row.largest_tensor_bytes
        ):
            out.append(
                f"{row.model} {row.method} {row.context_length} {row.phase}: {row.peak_bytes} bytes, committed {old['peak_bytes']}"
            )
    return out


def write_tables(rows, out: Path) -> list[str]:
    """The CSV and one page per model in ``out``; the failed checks (goals missed, bad statuses)."""
    failed = []
    out.mkdir(parents=True, exist_ok=True)
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        failures = goal_failures(mine) + [
            f"{r.model} {r.method} {r.context_length} {r.phase}: {r.status}" for r in mine if r.status != "ok"
        ]
        (out / f"{model}.md").write_text(model_page(model, mine, failures))
        failed += failures
    write_csv(rows, out / "scale_check.csv")
    return failed


def main(argv: list[str]) -> int:
    args = parse(argv)
    out, new_rows = Path(args.out), []
    existing = out / "scale_check.csv"
    earlier = read_csv(existing) if existing.exists() and not args.fresh else []
    if args.merge:
        new_rows = merge_rows([read_csv(Path(path)) for path in args.merge])
    else:
        chosen = chosen_variants(args.methods)
        for model in args.models:
            start = time.perf_counter()
            rows = check_model(model, args.lengths, chosen)
            print(f"{model}: {len(rows)} rows ({time.perf_counter() - start:.0f} s)", flush=True)
            new_rows += rows
            write_tables(merge_rows([earlier, new_rows]), out)  # each model's rows as soon as measured
    all_rows = merge_rows([earlier, new_rows])
    failed = write_tables(all_rows, out)
    if args.compare:
        failed += compare_rows(new_rows, Path(args.compare))
    for line in failed:
        print(f"FAIL {line}")
    print(f"scale check: {'FAIL' if failed else 'PASS'} ({len(all_rows)} rows) -> {out}/scale_check.csv")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
