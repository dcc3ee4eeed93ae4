"""Paper figures and tables from results: ``python scripts/plot.py results_dir=results [out_dir=..] [model=..]``.

Reads run directories (predictions.jsonl + config.yaml), results_dir/summary.csv and efficiency.csv files;
writes PNG + PDF figures and table2.md/.tex under OUT_DIR/<model>/ (default results_dir/figures).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asl.plotting import main  # noqa: E402

if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__.strip())
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
