"""Generators: length within 2% of the target with the embedded tokenizer, determinism, answers in context."""

from __future__ import annotations

import pytest

from eval.errors import BenchmarkError
from eval.infinitebench import synthetic as ib_synth
from eval.niah import BUFFER, generate_grid
from eval.prompts import build_prompt_ids, count_prompt_tokens
from eval.ruler import tasks as ruler_tasks


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from asl.models import get_model_spec
    from asl.models.embedded import ensure_checkpoint

    return AutoTokenizer.from_pretrained(ensure_checkpoint(get_model_spec("smollm2_135m")))


def _check_fits(examples, tok, target):
    for ex in examples:
        total = count_prompt_tokens(ex, tok, "chat") + ex.max_new_tokens
        assert 0.98 * target <= total <= target, (ex.task, total, target)
        assert ex.meta["prompt_tokens"] + ex.max_new_tokens == total


IB_TASKS = [
    "passkey",
    "number_string",
    "kv_retrieval",
    "kv_retrieval_short",
    "math_find",
    "code_run",
    "math_calc",
]


@pytest.mark.parametrize("task", IB_TASKS)
def test_infinitebench_generators(tok, task):
    target = 3000
    exs = ib_synth.generate(task, tok, target, 2, seed=7)
    _check_fits(exs, tok, target)
    again = ib_synth.generate(task, tok, target, 2, seed=7)
    assert [e.to_dict() for e in exs] == [e.to_dict() for e in again]
    other = ib_synth.generate(task, tok, target, 2, seed=8)
    assert [(e.context, e.answers) for e in other] != [(e.context, e.answers) for e in exs]
    for ex in exs:
        if task in ("passkey", "number_string", "kv_retrieval", "kv_retrieval_short"):
            assert ex.answers[0] in ex.context
        assert ex.metric in {"passkey", "number_string", "kv_retrieval", "math_find", "code_run", "math_calc"}


def test_infinitebench_answers_are_correct(tok):
    find = ib_synth.generate("math_find", tok, 1500, 7, seed=1)
    import ast
    import statistics

    for ex in find:
        nums = ast.literal_eval(ex.context)
        kind = ex.answer_prefix.removeprefix("The ").removesuffix(" of the list is: ")
        uniq = sorted(set(nums))
        want = {"largest number": uniq[-1], "second largest number": uniq[-2], "smallest number": uniq[0],
                "third largest number": uniq[-3], "second smallest number": uniq[1], "third smallest number": uniq[2],
                "median": statistics.median(nums)}[kind]  # fmt: skip
        assert ex.answers == [want]
    (run,) = ib_synth.generate("code_run", tok, 1500, 1, seed=1)
    namespace: dict = {}
    exec(run.context, namespace)  # the generated code is plain arithmetic
    call = run.answer_prefix.removeprefix("The value of ").removesuffix(" is")
    assert eval(call, namespace) == run.answers[0]
    (calc,) = ib_synth.generate("math_calc", tok, 1500, 1, seed=1)
    assert eval(calc.context) == calc.answers[-1]


@pytest.mark.parametrize("task", [t for t in ruler_tasks.TASKS if t not in ruler_tasks.REAL_DATA_TASKS])
def test_ruler_generators(tok, task):
    # cwe's and niah_multikey_3's units are coarse (3 numbered words; a ~60-token uuid needle sentence).
    target = 4096 if task in ("cwe", "niah_multikey_3") else 2500
    exs = ruler_tasks.generate(task, tok, target, 2, seed=3)
    _check_fits(exs, tok, target)
    again = ruler_tasks.generate(task, tok, target, 2, seed=3)
    assert [e.to_dict() for e in exs] == [e.to_dict() for e in again]
    for ex in exs:
        assert ex.answers and all(str(a) in ex.context for a in ex.answers)
        if task.startswith("niah"):
            needle_values = [a for a in ex.answers if f"is: {a}." in ex.context]
            assert needle_values == ex.answers
    if task == "cwe":  # the 10 answers really are the most frequent words
        words = [w.split(". ", 1)[1] for w in ex.context.split(" ") if ". " in w] or None
        counts = {a: ex.context.count(f". {a} ") + ex.context.endswith(f". {a}") for a in ex.answers}
        assert min(counts.values()) >= 25, (counts, words)


def test_ruler_answer_prefix_and_singular(tok):
    (single,) = ruler_tasks.generate("niah_single_1", tok, 1500, 1, seed=0)
    assert single.answer_prefix.startswith(" The special magic number for ")
    assert single.answer_prefix.endswith("mentioned in the provided text is")
    (multi,) = ruler_tasks.generate("niah_multiquery", tok, 1500, 1, seed=0)
    assert ", and " in multi.question and len(multi.answers) == 4
    (vt,) = ruler_tasks.generate("vt", tok, 1500, 1, seed=0)
    assert "assgined" in vt.answer_prefix and len(vt.answers) == 5


def test_niah_grid_lengths_depths_and_recipe(tok):
    exs = generate_grid(tok, [1500, 3000], [0, 50, 100], 2, seed=0, variant="asl")
    assert len(exs) == 12
    cells = {(e.meta["length"], e.meta["depth"]) for e in exs}
    assert cells == {(L, d) for L in (1500, 3000) for d in (0, 50, 100)}
    for ex in exs:
        assert "special magic" in ex.context and ex.answers[0] in ex.context
        ids, _ = build_prompt_ids(ex, tok, "chat")
        # [ref] recipe: haystack = length - 200 buffer - needle; the template adds the rest.
        assert ex.meta["length"] - BUFFER - 5 <= ex.meta["context_tokens"] <= ex.meta["length"] - BUFFER
        assert ex.meta["length"] - BUFFER <= len(ids) <= ex.meta["length"] - ex.max_new_tokens
    mid = [e for e in exs if e.meta["depth"] == 50]
    assert all(40 <= e.meta["depth_actual"] <= 50 for e in mid)
    before = mid[0].context.split("\nThe special magic")[0]
    assert before.rstrip().endswith(".")  # inserted at a sentence boundary
    assert exs[0].context.startswith("\nThe special magic")  # depth 0
    assert (
        generate_grid(tok, [1500], [50], 1, 0)[0].to_dict()
        == generate_grid(tok, [1500], [50], 1, 0)[0].to_dict()
    )


def test_niah_kv_variant(tok):
    (ex,) = generate_grid(tok, [1500], [50], 1, seed=0, variant="kv")
    assert "Dolores Park" in ex.context and ex.metric == "niah_word_overlap"
    assert ex.meta["stop_at_newline"] is True
    with pytest.raises(BenchmarkError, match="unknown NIAH variant"):
        generate_grid(tok, [1500], [50], 1, seed=0, variant="nope")
