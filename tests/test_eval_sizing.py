"""The sizing search is bounded: every generator asked for 131072 tokens reaches the length, or stops with a
one-line error naming the task, the length and the pool, within a bounded number of tokenizer calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval import registry
from eval.errors import BenchmarkError, PoolExhaustedError
from eval.infinitebench import synthetic as ib_synth
from eval.niah import generate_grid
from eval.ruler import aggregation
from eval.ruler import tasks as ruler_tasks
from eval.sizing import MAX_CALLS, fit_units

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
BIG = 131072
IB_TASKS = registry.names("infinitebench", generated=True)  # every generated InfiniteBench task


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from asl.models import get_model_spec
    from asl.models.embedded import ensure_checkpoint

    return AutoTokenizer.from_pretrained(ensure_checkpoint(get_model_spec("smollm2_135m")))


class CountingTokenizer:
    """The embedded tokenizer, counting encode calls."""

    def __init__(self, tok):
        self._tok, self.calls = tok, 0

    def encode(self, *args, **kwargs):
        self.calls += 1
        return self._tok.encode(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._tok, name)


def test_fit_units_exact_bounded_and_one_line_errors():
    calls = []

    def linear(n):
        calls.append(n)
        return 100 + 7 * n

    n = fit_units(linear, 100_000, 10)
    assert 100_000 - 250 <= linear(n) <= 100_000 and len(calls) <= 8  # within 0.25% of the budget
    calls.clear()
    assert fit_units(linear, 1000, 10) == 128 and len(calls) <= 10  # small budgets: exact
    with pytest.raises(
        PoolExhaustedError,
        match=r"^RULER cwe at 100000 tokens: the 8 words pool is exhausted at 50 units \(450 tokens\)$",
    ):
        fit_units(linear, 100_000, 10, max_units=50, what="RULER cwe", pool="8 words pool")
    with pytest.raises(BenchmarkError, match=r"^x: target length 50 too short: the prompt needs 100 tokens"):
        fit_units(linear, 50, 10, what="x")
    stuck = []  # a count that never grows must not loop forever

    def flat(n):
        stuck.append(n)
        return 10

    with pytest.raises(BenchmarkError, match=f"did not converge in {MAX_CALLS} tokenizer calls"):
        fit_units(flat, 1000, 10, what="flat")
    assert len(stuck) == MAX_CALLS


def _reached(ex, tok, calls):
    total = ex.meta["prompt_tokens"] + ex.max_new_tokens
    assert 0.98 * BIG <= total <= BIG, (ex.task, total)
    assert calls <= 2 * MAX_CALLS + 20, (ex.task, calls)


@pytest.mark.parametrize("task", IB_TASKS)
def test_infinitebench_generators_reach_131072(tok, task):
    counting = CountingTokenizer(tok)
    (ex,) = ib_synth.generate(task, counting, BIG, 1, seed=0, profile="official")
    _reached(ex, tok, counting.calls)


@pytest.mark.filterwarnings("ignore:RULER qa_.*exhausted")
@pytest.mark.parametrize("task", ruler_tasks.TASKS)
def test_ruler_generators_reach_131072(tok, task):
    counting = CountingTokenizer(tok)
    (ex,) = ruler_tasks.generate(task, counting, BIG, 1, seed=0, profile="official", data_dir=str(FIXTURES))
    _reached(ex, tok, counting.calls)  # qa: the official script repeats the (tiny) document pool
    if task in ruler_tasks.REAL_DATA_TASKS:  # [ref] stops growing at the pool end: shorter, and recorded
        counting = CountingTokenizer(tok)
        with pytest.warns(UserWarning, match=f"RULER {task} at {BIG} tokens: the document pool"):
            (ref,) = ruler_tasks.generate(
                task, counting, BIG, 1, seed=0, profile="reference", data_dir=str(FIXTURES)
            )
        assert ref.meta["pool_capped"].startswith("document pool") and ref.meta["prompt_tokens"] < 2000
        assert counting.calls <= MAX_CALLS + 5


def test_cwe_pool_exhausted_is_a_one_line_error(tok, monkeypatch):
    monkeypatch.setattr(aggregation, "cwe_words", lambda: tuple(f"word{i}" for i in range(60)))
    with pytest.raises(PoolExhaustedError) as err:
        ruler_tasks.generate("cwe", CountingTokenizer(tok), BIG, 1, seed=0, profile="official")
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(
        f"RULER cwe at {BIG} tokens: the wonderwords nouns+adjectives+verbs (60 words)"
    )
    assert "english_words.json" in str(err.value)


def test_niah_reaches_131072(tok):
    for variant in ("asl", "kv"):
        counting = CountingTokenizer(tok)
        (ex,) = generate_grid(counting, [BIG], [50], 1, seed=0, variant=variant, profile="official")
        assert BIG - 200 - 40 <= ex.meta["context_tokens"] <= BIG - 200 and counting.calls <= 20
