"""``python -m asl.models.prepare NAME``: install-time step that builds the embedded model's cache."""

from __future__ import annotations

import sys
import time

from asl.models.embedded import ensure_checkpoint
from asl.models.registry import get_model_spec


def main(argv: list[str]) -> int:
    names = argv or ["smollm2_135m"]
    for name in names:
        try:
            spec = get_model_spec(name)
            if spec.source != "embedded":
                print(f"{name}: nothing to prepare (source={spec.source})")
                continue
            start = time.perf_counter()
            path = ensure_checkpoint(spec)
        except (ValueError, RuntimeError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"{name}: checkpoint ready at {path} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
