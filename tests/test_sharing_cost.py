"""The cost model of a shared prefill and the dry-run plan of a shared job (Table 2 at paper scale)."""

from __future__ import annotations

import subprocess
import sys

from asl import build_method
from asl.cost_model import (
    ArchSpec,
    full_prefill_flops,
    kv_bytes,
    layer_flops,
    lm_head_flops,
    shared_prefill_flops,
)
from asl.harness.group_plan import group_flops, shared_kv_bytes, trunk_plan
from tests.runner_fakes import ROOT

ARCH = ArchSpec(
    num_layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128, intermediate=14336, vocab=128256
)
N = 131072


def test_trunk_layers_follow_each_method_family():
    assert build_method("fullkv").trunk_layers(32, N, None) == 32
    assert build_method("snapkv", kv_budget=2048).trunk_layers(32, N, None) == 32
    assert (
        build_method("fastkv", kv_budget=2048, tsp_layer=15).trunk_layers(32, N, 15) == 16
    )  # forks after 15
    assert build_method("gemfilter", kv_budget=2048, filter_layer=13).trunk_layers(32, N, 13) == 14
    assert build_method("asl", kv_budget=2048).trunk_layers(32, N, None) == 32  # never fired: no fork
    assert build_method("fastkv", kv_budget=2048, tsp_layer=15).trunk_layers(32, 1000, 15) == 32  # n <= k


def test_shared_flops_count_the_trunk_once():
    full = full_prefill_flops(ARCH, N)
    fast = build_method("fastkv", kv_budget=2048, tsp_layer=15)
    gem = build_method("gemfilter", kv_budget=2048, filter_layer=13)
    members = [(full, 32), (fast.prefill_flops(ARCH, N, 15), 16), (gem.prefill_flops(ARCH, N, 13), 14)]
    # by hand: the trunk is Full KV's prefill; FastKV adds layers 16..31 on its kept tokens and its LM head;
    # GemFilter adds its second pass on 2048 tokens
    by_hand = (
        full + 16 * layer_flops(ARCH, fast.num_keep) + lm_head_flops(ARCH) + full_prefill_flops(ARCH, 2048)
    )
    assert shared_prefill_flops(ARCH, N, members) == by_hand
    assert shared_prefill_flops(ARCH, N, members[:1]) == full  # one method: its own cost
    assert shared_prefill_flops(ARCH, N, []) == 0


def test_a_method_that_cannot_share_counts_its_own_prefill():
    methods = [build_method("fullkv"), build_method("kvpress", press="KnormPress", kv_budget=2048)]
    separate, shared = group_flops(trunk_plan(methods, ARCH, N), ARCH, N)
    assert separate == shared == 2 * full_prefill_flops(ARCH, N)


def test_whole_layers_are_stored_once_in_the_shared_kv():
    full = build_method("fullkv")
    before = build_method("asl_fullbefore", kv_budget=2048, force_layer=9, l_min=4)
    snap = build_method("snapkv", kv_budget=2048)
    got = shared_kv_bytes([full, before, snap], ARCH, N, 2)
    lengths = before.kv_lengths(N, 32, before.planned_layer())
    expected = kv_bytes(ARCH, [N] * 32, 2) + kv_bytes(ARCH, [x if x < N else 0 for x in lengths], 2)
    assert lengths.count(N) == 10  # layers 0..9 whole (Full before), the rest of its own
    assert got == expected + kv_bytes(ARCH, [2048] * 32, 2)


def test_dry_run_of_table2_prints_shared_and_separate_gpu_hours():
    cmd = [sys.executable, str(ROOT / "scripts" / "run.py"), "-m", "experiment=table2", "model=llama31_8b_ul",
           "benchmark.data_dir=hf", "dry_run=true"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "x 3482 prompt(s)" in out  # the paper's 10 tasks, every official record
    assert "fastkv: forks after layer 15" in out and "gemfilter: leaves after layer 13" in out
    for gpu in ("H100", "H200"):
        line = next(ln for ln in out.splitlines() if gpu in ln and "GPU-hours shared" in ln)
        ratio = float(line.split("(")[1].split(";")[0])
        assert 0 < ratio <= 0.35  # the goal: shared <= 35% of separate
        peak = next(ln for ln in out.splitlines() if gpu in ln and "shared peak" in ln)
        assert float(peak.split("(")[1].split("%")[0]) <= 10.0  # <= Full KV's own peak + 10%
