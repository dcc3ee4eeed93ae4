"""ASL monitoring overhead on a real prompt where the rule fires: ASL's TTFT against FastKV forced to the
layer ASL selected (same prompt, budget and kv_before), interleaved repeats, medians.

    python scripts/measure_asl_overhead.py      # embedded SmolLM2, InfiniteBench passkey at 4K, budget 256
"""

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asl import build_method, generate, load_model  # noqa: E402
from eval.prompts import build_prompt_ids  # noqa: E402
from eval.suite import load_examples  # noqa: E402

m, t = load_model("smollm2_135m")
ex = load_examples(
    {
        "family": "mixed",
        "tasks": ["infinitebench/passkey"],
        "context_length": 4096,
        "num_samples": 1,
        "profile": "chat",
    },
    t,
    0,
)[0]
ids, _ = build_prompt_ids(ex, t, "chat", ex.meta["max_prompt_tokens"])
for kv_before in ("snapkv", "full"):
    asl = build_method("asl", kv_budget=256, kv_before=kv_before)
    first = generate(m, t, ids, asl, max_new_tokens=1)
    layer = first.selection_layer
    fast = build_method("fastkv", kv_budget=256, kv_before=kv_before, tsp_layer=layer)
    a, f = [], []
    for _ in range(3):
        a.append(generate(m, t, ids, asl, max_new_tokens=1).ttft_s)
        f.append(generate(m, t, ids, fast, max_new_tokens=1).ttft_s)
    print(
        f"N={len(ids)} kv_before={kv_before} layer={layer} asl={statistics.median(a):.3f}s fastkv@{layer}={statistics.median(f):.3f}s overhead={statistics.median(a) / statistics.median(f):.3f} (ratios per pair: {[round(x / y, 3) for x, y in zip(a, f, strict=True)]})",
        flush=True,
    )
