"""The swept value is chosen on a second seed's samples and tested on the first (asl/results/tuning.py):
the choice never looks at the samples it is tested on."""

from __future__ import annotations

from pathlib import Path

from asl.results.multiplicity import parse_families
from asl.results.reader import load_runs
from asl.results.schema import SampleRecord
from asl.results.tables import pivot, summary_rows
from asl.results.tuning import choose, select_and_test
from asl.results.writers import tables_markdown
from tests.results_fixtures import demo_config, write_run


def records(scores: list[float]) -> list[SampleRecord]:
    return [
        SampleRecord(id=str(i), task="passkey", context_length=1024, score=s) for i, s in enumerate(scores)
    ]


def test_value_chosen_on_one_seed_and_tested_on_the_other(tmp_path: Path) -> None:
    # seed 1 (choose): stride 4 is best; seed 0 (test): stride 8 would look best, stride 4 is tested
    table = {(1, 1): [0] * 20, (4, 1): [1] * 12 + [0] * 8, (8, 1): [1] * 2 + [0] * 18,
             (1, 0): [0] * 20, (4, 0): [1] * 15 + [0] * 5, (8, 0): [1] * 20}  # fmt: skip
    for (stride, seed), scores in table.items():
        write_run(
            tmp_path, "m", "b", "infinitebench", demo_config(256, stride=stride), records(scores), seed=seed
        )
    p = pivot(summary_rows(load_runs(tmp_path)), "task")
    assert choose(p, "stride", 1)["demo"][0] == 4
    (choice,) = select_and_test(p, "stride", 1, choose_seed=1, test_seed=0)
    assert choice.value == 4 and choice.test.delta == 75.0 and choice.test.p_adjusted == choice.test.p_value
    assert choice.chosen_label.endswith("seed=0 stride=4") and choice.reference_label.endswith(
        "seed=0 stride=1"
    )
    families = parse_families([{"name": "levels", "kind": "levels", "key": "stride", "reference": 1}])
    md = tables_markdown(summary_rows(load_runs(tmp_path)), "fullkv", families,
                         {"key": "stride", "choose_seed": 1, "test_seed": 0})  # fmt: skip
    assert "stride chosen on seed 1, tested on seed 0" in md and "| demo | stride=4 | 60.0 |" in md


def test_an_invalid_recorded_score_is_one_error_naming_run_and_sample(tmp_path: Path) -> None:
    import pytest

    from asl.results.stats import ScoreError
    from asl.results.writers import write_tables

    run = write_run(tmp_path, "m", "b", "infinitebench", demo_config(256), records([1.0, 0.0]))
    path = run / "predictions.jsonl"
    path.write_text(path.read_text().replace('"score":0.0', '"score":NaN'))
    with pytest.raises(
        ScoreError, match=r"run .*demo-.*, sample passkey\|1024\|1: score nan is not a finite"
    ):
        write_tables(tmp_path, "fullkv")
