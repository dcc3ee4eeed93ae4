"""The ASL reference code's scoring quirks as a named switch (``benchmark.reference_scoring``, profile
reference only, default off), and the official profile's truncation length (issue 19)."""

from __future__ import annotations

import pytest

from eval.errors import BenchmarkError
from eval.schema import Example
from eval.scoring import excluded_by_reference, score
from eval.suite import _cap, validate


def example(metric: str, answers: list, benchmark: str = "infinitebench", **meta) -> Example:
    return Example(id="0", benchmark=benchmark, task=metric, context="", question="", answer_prefix="",
                   answers=answers, options=[], max_new_tokens=50, metric=metric, meta=meta)  # fmt: skip


@pytest.mark.parametrize(
    "metric, answers, prediction",
    [
        (
            "kv_retrieval",
            ["a1b2-c3"],
            "Thea1b2-c3</s>",
        ),  # glued to "The" and "</s>": only the reference counts it
        ("math_find", [42], "The answer is 42.9"),  # int(float("42.9")) == 42
    ],
)
def test_reference_rules_are_more_lenient_and_off_by_default(metric, answers, prediction):
    assert score(example(metric, answers), prediction) == 0.0  # official rule
    assert score(example(metric, answers, reference_scoring=True), prediction) == 1.0


def test_reference_scoring_needs_the_reference_profile():
    bench = {"name": "x", "family": "ruler", "tasks": ["vt"], "profile": "chat", "reference_scoring": True}
    with pytest.raises(BenchmarkError, match="reference_scoring applies only to profile=reference"):
        validate(bench)
    validate({**bench, "profile": "reference"})


def test_reference_ruler_means_leave_out_empty_predictions():
    ruler = example("string_match_all", ["x"], benchmark="ruler", reference_scoring=True)
    assert excluded_by_reference(ruler, "  \n") and not excluded_by_reference(ruler, "x")
    assert not excluded_by_reference(example("string_match_all", ["x"], benchmark="ruler"), "")


def test_official_profile_truncates_the_raw_prompt_to_L():
    """OpenBMB/InfiniteBench truncates the prompt itself to L; the other profiles keep room to generate."""
    for profile, limit in (("official", 4096), ("reference", 4096 - 50), ("chat", 4096 - 50)):
        (ex,) = _cap([example("passkey", ["1"], length=4096)], {"profile": profile})
        assert ex.meta["max_prompt_tokens"] == limit, profile
