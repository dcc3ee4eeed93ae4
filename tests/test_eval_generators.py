"""Generators: official construction (ranges, digit layouts, needle layouts), answers that vary with the seed and
cannot be guessed from the task, gold answers scoring 1.0, length within 2% of the target, determinism."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from eval import registry
from eval.errors import BenchmarkError
from eval.infinitebench import synthetic as ib_synth
from eval.infinitebench.synthetic_math import FIND_KINDS
from eval.niah import BUFFER, generate_grid
from eval.prompts import build_prompt_ids, count_prompt_tokens
from eval.ruler import tasks as ruler_tasks
from eval.scoring import score

IB_TASKS = registry.names("infinitebench", generated=True)  # every generated InfiniteBench task
RULER_SYNTHETIC = registry.names("ruler", generated=True, data="none")  # no external data


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from asl.models import get_model_spec
    from asl.models.embedded import ensure_checkpoint

    return AutoTokenizer.from_pretrained(ensure_checkpoint(get_model_spec("smollm2_135m")))


def gold(ex) -> str:
    """A perfect prediction, written the way a model would answer."""
    if ex.metric == "math_calc":
        return str(ex.answers)
    if ex.metric.startswith("string_match") or ex.metric.startswith("niah"):
        return " ".join(str(a) for a in ex.answers)
    return f" {ex.answers[0]}."


def _check_fits(examples, tok, target, profile="chat"):
    for ex in examples:
        total = count_prompt_tokens(ex, tok, profile) + ex.max_new_tokens
        assert 0.98 * target <= total <= target, (ex.task, total, target)
        assert ex.meta["prompt_tokens"] + ex.max_new_tokens == total


@pytest.mark.parametrize("task", IB_TASKS)
def test_infinitebench_generators(tok, task):
    target = 3000 if task == "kv_retrieval" else 1500  # one UUID pair is ~50 tokens
    exs = ib_synth.generate(task, tok, target, 2, seed=7)
    _check_fits(exs, tok, target)
    assert [e.to_dict() for e in exs] == [
        e.to_dict() for e in ib_synth.generate(task, tok, target, 2, seed=7)
    ]
    for ex in exs:
        assert score(ex, gold(ex)) == 1.0, (task, gold(ex)[:80])
        if registry.spec("infinitebench", task).strata == "depth":  # retrieval: the answer is in the text
            assert ex.answers[0] in ex.context
    # the answer is not a function of the task: it changes with the seed
    answers = {str(e.answers) for seed in range(4) for e in ib_synth.generate(task, tok, 1000, 1, seed=seed)}
    assert len(answers) >= 3, answers


def test_passkey_and_number_string_digit_layouts():
    rng = random.Random(0)
    keys = [ib_synth.passkey_key(rng) for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9]{5}", k) for k in keys)
    assert 120 <= sum(k[0] == "0" for k in keys) <= 280  # leading zeros, ~1 in 10 (defect 8)
    numbers = [ib_synth.number_string_key(rng) for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9]{10}", k) for k in numbers)
    assert 120 <= sum(k[0] == "0" for k in numbers) <= 280
    # in-place duplication: every key has runs of repeated digits, at least one adjacent equal pair
    assert all(any(a == b for a, b in zip(k, k[1:], strict=False)) for k in numbers)
    assert Counter(len(set(k)) for k in numbers)[5] < 2000  # not always 5 distinct digits


def test_math_find_is_not_answerable_without_the_list(tok):
    # defect 1: without the min/max shifts the answers were always 99/98/97/0/1/2
    per_kind: dict[str, list] = {}
    for seed in range(5):
        for ex in ib_synth.generate("math_find", tok, 1000, 7, seed=seed):
            nums = [int(x) for x in ex.context.strip("[]").split(", ")]
            assert all(0 <= x <= 99 for x in nums)
            per_kind.setdefault(ex.meta["sub_task"], []).append(ex.answers[0])
    assert set(per_kind) == set(FIND_KINDS)
    for kind, answers in per_kind.items():
        assert Counter(answers).most_common(1)[0][1] <= 3, (kind, answers)  # no answer guessable per sub-task


def test_math_calc_values_and_answer(tok):
    # defect 2: values stay in [0, 99] so the official digit-run parser can read them; the first term is excluded
    for ex in ib_synth.generate("math_calc", tok, 1500, 2, seed=3):
        terms = ex.context.split(" ")
        values = [int(terms[0])]
        for op, term in zip(terms[1::2], terms[2::2], strict=True):
            values.append(values[-1] + int(term) if op == "+" else values[-1] - int(term))
        assert ex.answers == values[1:] and all(0 <= v <= 99 for v in values)
        assert (
            score(ex, str(values)) < 1.0 <= score(ex, str(values[1:]))
        )  # the official label excludes the first term


def test_code_run_layers_and_value(tok):
    for i, ex in enumerate(ib_synth.generate("code_run", tok, 2000, 5, seed=2)):
        assert ex.context.startswith("\nHere is the content of functions_module.py:\n\n")
        namespace: dict = {}
        exec(ex.context.split(":\n\n", 1)[1], namespace)  # after the header: plain arithmetic
        call = re.search(r"func_\d+\(-?\d+\)", ex.question).group(0)
        assert eval(call, namespace) == ex.answers[0]
        calls = dict(re.findall(r"def (func_\d+)\(x\):\n    return (func_\d+)?", ex.context))
        name, depth = call.split("(")[0], 1
        while calls[name]:
            name, depth = calls[name], depth + 1
        assert depth == [2, 4, 6, 8, 10][i]


@pytest.mark.parametrize("task", RULER_SYNTHETIC)
def test_ruler_generators(tok, task):
    target = 1500
    exs = ruler_tasks.generate(task, tok, target, 2, seed=3)
    _check_fits(exs, tok, target)
    assert [e.to_dict() for e in exs] == [
        e.to_dict() for e in ruler_tasks.generate(task, tok, target, 2, seed=3)
    ]
    for ex in exs:
        assert ex.answers and all(str(a) in ex.context for a in ex.answers)
        assert score(ex, gold(ex)) == 1.0
        if task.startswith("niah"):
            assert [a for a in ex.answers if f"is: {a}." in ex.context] == ex.answers
        if task in (
            "niah_single_1",
            "niah_multikey_2",
            "niah_multikey_3",
        ):  # needles go at indexes in range(n)
            assert not any(str(a) in ex.context.split("\n")[-1] for a in ex.answers)
    answers = {
        str(e.answers) for seed in range(3) for e in ruler_tasks.generate(task, tok, 900, 1, seed=seed)
    }
    assert len(answers) == 3
    if task == "cwe":  # the 10 answers really are the most frequent words
        counts = Counter(w.split(". ", 1)[-1] for w in re.split(r" (?=\d+\. )", exs[0].context))
        assert {w for w, _ in counts.most_common(10)} == set(exs[0].answers)


def test_ruler_strings_per_profile(tok):
    (single,) = ruler_tasks.generate("niah_single_1", tok, 1500, 1, seed=0)
    assert single.answer_prefix.startswith(" The special magic number for ")
    assert single.answer_prefix.endswith("mentioned in the provided text is") and single.meta["singular"]
    (multi,) = ruler_tasks.generate("niah_multiquery", tok, 1500, 1, seed=0)
    assert ", and " in multi.question and len(multi.answers) == 4 and not multi.meta["singular"]
    (vt,) = ruler_tasks.generate("vt", tok, 1500, 1, seed=0)
    assert "are assigned the value" in vt.answer_prefix and len(vt.answers) == 5  # official RULER @ c3f5e3b
    (vt_ref,) = ruler_tasks.generate("vt", tok, 1500, 1, seed=0, profile="reference")
    assert "are assgined the value" in vt_ref.answer_prefix  # [ref] keeps the older typo
    (cwe,) = ruler_tasks.generate("cwe", tok, 1500, 1, seed=0)
    (cwe_ref,) = ruler_tasks.generate("cwe", tok, 1500, 1, seed=0, profile="reference")
    assert (
        cwe.meta["template"].count("Below is a numbered list") == 2 and not cwe.meta["turns"]
    )  # inline one-shot
    assert cwe_ref.meta["template"].count("Below is a numbered list") == 1 and len(cwe_ref.meta["turns"]) == 1


def test_niah_grid_lengths_depths_and_recipe(tok):
    exs = generate_grid(tok, [1500, 3000], [0, 50, 100], 2, seed=0, variant="asl")
    assert len(exs) == 12
    cells = {(e.meta["length"], e.meta["depth"]) for e in exs}
    assert cells == {(L, d) for L in (1500, 3000) for d in (0, 50, 100)}
    for ex in exs:
        assert "special magic" in ex.context and ex.answers[0] in ex.context and score(ex, gold(ex)) == 1.0
        city = re.search(r"The special magic (.+) number is", ex.context).group(1)
        assert f"What is the special magic {city} number?" in ex.question
        ids, _ = build_prompt_ids(ex, tok, "chat")
        # [ref] recipe: haystack = length - 200 buffer - needle; the template adds the rest.
        assert ex.meta["length"] - BUFFER - 5 <= ex.meta["context_tokens"] <= ex.meta["length"] - BUFFER
        assert ex.meta["length"] - BUFFER <= len(ids) <= ex.meta["length"] - ex.max_new_tokens
        assert ex.meta["haystack_fallback_for"] == "PG19"  # the bundled text stands in for PG19, labelled
    mid = [e for e in exs if e.meta["depth"] == 50]
    assert all(40 <= e.meta["depth_actual"] <= 50 for e in mid)
    assert mid[0].context.split("\nThe special magic")[0].rstrip().endswith(".")  # at a sentence boundary
    assert exs[0].context.startswith("\nThe special magic")  # depth 0
    assert (
        len({e.answers[0] for e in exs}) == 12
        and len({re.search(r"magic (.+) number", e.context).group(1) for e in exs}) > 3
    )
    one = generate_grid(tok, [1500], [50], 1, 0)[0].to_dict()
    assert one == generate_grid(tok, [1500], [50], 1, 0)[0].to_dict()


def test_niah_kv_variant(tok):
    (ex,) = generate_grid(tok, [1500], [50], 1, seed=0, variant="kv")
    assert (
        "Dolores Park" in ex.context
        and ex.metric == "niah_word_overlap"
        and ex.meta["stop_at_newline"] is True
    )
    assert score(ex, gold(ex)) == 1.0
    with pytest.raises(BenchmarkError, match="unknown NIAH variant"):
        generate_grid(tok, [1500], [50], 1, seed=0, variant="nope")


@pytest.mark.parametrize(
    "task", ["ib/passkey", "ib/math_find", "ruler/niah_single_1", "ruler/fwe", "niah/asl"]
)
def test_generated_samples_are_nested_in_num_samples(tok, task):
    """Sample i does not depend on num_samples, and the samples of k are among those of a larger k."""
    family, name = task.split("/")

    def gen(k):
        if family == "ib":
            return ib_synth.generate(name, tok, 800, k, seed=5)
        if family == "ruler":
            return ruler_tasks.generate(name, tok, 800, k, seed=5)
        return generate_grid(tok, [800], [0, 50], k, seed=5)

    larger = {e.id: e.to_dict() for e in gen(5)}
    smaller = gen(3)
    assert len(smaller) < len(larger) and all(larger.get(e.id) == e.to_dict() for e in smaller)
