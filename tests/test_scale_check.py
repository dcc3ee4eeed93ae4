"""The paper-scale check's machinery: the fake-tensor probe's accounting, its shape rules, the fused
attention stand-in's contract, the memory goals, and the real engine on a small shape end to end."""

from __future__ import annotations

import pytest
import torch

from asl.scalecheck.check import GiB, Row, Variant, check_model, goal_failures, variants
from asl.scalecheck.fake_model import fake_mode
from asl.scalecheck.goals import full_before_note, memory_goals
from asl.scalecheck.probe import Limits, MemoryProbe
from asl.scalecheck.report import merge_rows, missing_settings, read_csv, wall_times, write_csv
from asl.scalecheck.run import fused_attention_standin


def test_probe_counts_storages_not_views():
    probe = MemoryProbe()
    with fake_mode(), probe:
        probe.start_phase("x")
        a = torch.empty(1000, dtype=torch.float32, device="meta")
        view = a[:10]
        a.add_(1)
        assert probe.live == 4000
        b = torch.empty(500, dtype=torch.bfloat16, device="meta")
        assert probe.live == 5000 and probe.current.peak_bytes == 5000
        del a
        assert probe.live == 5000  # the view keeps the storage alive
        del view, b
        assert probe.live == 0 and probe.current.peak_bytes == 5000
        assert int(torch.empty(3, device="meta").argmax()) == 0  # host reads are 0 on fake tensors


def test_probe_flags_quadratic_and_vocabulary_sized_tensors():
    probe = MemoryProbe(limits=Limits(tokens=100, vocab=50, hidden=8, low_precision=True))
    with fake_mode(), probe:
        probe.start_phase("prefill")
        torch.empty(100, 100, device="meta")
        torch.empty(100, 50, dtype=torch.bfloat16, device="meta")
        torch.empty(100, 8, dtype=torch.float32, device="meta")
        torch.empty(100, 8, dtype=torch.bfloat16, device="meta")
    reasons = [f.reason for f in probe.findings]
    assert len(reasons) == 3 and "N^2" in reasons[0] and "vocab" in reasons[1] and "float32" in reasons[2]


def test_fused_standin_checks_the_causal_contract():
    q, k = torch.zeros(1, 4, 8, 16), torch.zeros(1, 2, 6, 16)
    with pytest.raises(ValueError, match="bad attention call"):
        fused_attention_standin(None, q, k, k, True, 0.25)
    with pytest.raises(TypeError, match="differ"):
        fused_attention_standin(None, q, k.half(), k, False, 0.25)
    assert fused_attention_standin(None, q[:, :, :4], k, k, True, 0.25).shape == (1, 4, 4, 16)


def _row(method, n, peak, weights=16 * GiB, kv=0):
    return Row("llama31_8b_ul", method, n, "prefill", peak, peak, weights, kv, 0, 0.0, 4096, None, 1.0, "ok")


def test_memory_goals():
    assert goal_failures([_row("snapkv", 131072, 18 * GiB - 1)]) == []
    assert "2 GiB" in goal_failures([_row("snapkv", 131072, 18 * GiB + 1)])[0]
    assert goal_failures([_row("fullkv", 131072, 40 * GiB)]) == []  # FullKV is not held to 2 GiB
    assert "H100" in goal_failures([_row("asl@last", 1048576, 81e9)])[0]
    assert "H200" in goal_failures([_row("fullkv", 524288, 142e9)])[0]
    # a Full-before variant keeps the whole cache up to its layer by definition: listed, not judged
    assert goal_failures([_row("asl_fullbefore@last", 1048576, 167e9)]) == []
    assert "asl_fullbefore@last 167.0 GB; 1 of 1 above" in full_before_note(
        [_row("asl_fullbefore@last", 1048576, 167e9)]
    )


def test_goal_lines_judge_the_worst_request_of_both_phases():
    decode = _row("snapkv", 1048576, 82e9)
    decode.phase = "decode"  # a request's peak is the larger of its phases
    rows = [
        _row("fullkv", 524288, 100e9),
        _row("snapkv", 1048576, 30e9),
        decode,
        _row("gemfilter", 1048576, 79e9),
    ]
    small, one_m, fullkv = (goal.verdict() for goal in memory_goals(rows))
    assert "not in this table" in small
    assert "**missed** by 1 of 2" in one_m and "snapkv 82.0 GB" in one_m
    assert "**met**" in fullkv and "100.0 GB" in fullkv


def test_tables_round_trip_and_merge(tmp_path):
    a = [_row("snapkv", 131072, 17 * GiB), _row("fullkv", 131072, 33 * GiB)]
    b = [_row("snapkv", 1048576, 30 * GiB)]
    b[0].seconds = 12.5
    write_csv(a, tmp_path / "a.csv")
    write_csv(b, tmp_path / "b.csv")
    merged = merge_rows([read_csv(tmp_path / "b.csv"), read_csv(tmp_path / "a.csv")])
    assert [(r.method, r.context_length) for r in merged] == [
        ("snapkv", 131072),
        ("fullkv", 131072),
        ("snapkv", 1048576),
    ]
    assert merged == sorted(a, key=lambda r: r.method, reverse=True) + b
    assert wall_times(merged) == {131072: 0.0, 1048576: 12.5}
    missing = missing_settings(merged)
    assert missing[0].startswith("131072: pyramidkv") and "fullkv," not in missing[0]
    assert missing[1] == "262144: all methods" and len(missing) == 4


def test_fused_standin_holds_the_lse_beside_its_output():
    """A fused kernel writes its output and the fp32 LSE together: the peak counts both."""
    probe = MemoryProbe()
    with fake_mode(), probe:
        q, k = torch.empty(1, 8, 64, 16, device="meta"), torch.empty(1, 2, 64, 16, device="meta")
        probe.start_phase("attention")
        out = fused_attention_standin(None, q, k, k, True, 0.25)
        lse_bytes = 8 * 64 * 4
        assert (
            probe.current.peak_bytes - probe.live == lse_bytes
            and probe.live == out.nbytes + q.nbytes + k.nbytes
        )


def test_variants_force_asl_layers():
    labels = [v.label for v in variants()]
    assert {"fullkv", "snapkv", "gemfilter", "asl@l_min", "asl@middle", "asl_2pass@last"} <= set(labels)


def test_engine_on_a_fake_small_shape_matches_the_memory_model():
    """The real engine end to end on fake tensors (tiny Llama shape, 2048 tokens, 256-token chunks)."""
    chosen = [Variant("fullkv"), Variant("snapkv"), Variant("asl_2pass", "middle")]
    rows = check_model("tiny_llama", [2048], chosen, chunk=256)
    assert len(rows) == 6
    for row in rows:
        assert row.peak_bytes > row.weights_bytes and row.decode_ops_per_layer > 0
        assert "still live" not in row.status and "N^2" not in row.status


def test_script_merges_runs_into_the_table_in_out(tmp_path):
    """Per-length runs combine: rows replace their own rows of the table in --out, others are kept."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "scale_check.py"
    spec = importlib.util.spec_from_file_location("scale_check_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    short, long_ = [_row("snapkv", 131072, 17 * GiB)], [_row("snapkv", 1048576, 30 * GiB)]
    write_csv(short, tmp_path / "short.csv")
    write_csv(long_, tmp_path / "long.csv")
    out = tmp_path / "table"
    assert script.main(["--merge", str(tmp_path / "short.csv"), "--out", str(out)]) == 0
    assert script.main(["--merge", str(tmp_path / "long.csv"), "--out", str(out)]) == 0
    assert [r.context_length for r in read_csv(out / "scale_check.csv")] == [131072, 1048576]
    page = (out / "llama31_8b_ul.md").read_text()
    assert "1M: every method pruning from the first layer: request peak <= 80 GB (one H100): **met**" in page
    assert script.main(["--merge", str(tmp_path / "long.csv"), "--out", str(out), "--fresh"]) == 0
    assert len(read_csv(out / "scale_check.csv")) == 1
