"""Golden cases for the pure scorers (benchmarks.md §1.5, §2.5, §3)."""

from __future__ import annotations

import pytest

from eval.errors import BenchmarkError
from eval.infinitebench import scoring as ib
from eval.schema import Example
from eval.scoring import aggregate, niah_word_overlap, score, string_match_all, string_match_part


def test_passkey_first_digit_run():
    assert ib.score_digits("The pass key is 71432.", ["71432"]) == 1.0
    assert ib.score_digits("71432", [71432]) == 1.0  # int label compared as string
    assert ib.score_digits("12 then 71432", ["71432"]) == 0.0  # only the first run counts
    assert ib.score_digits("714321", ["71432"]) == 0.0  # maximal run, not a prefix
    assert ib.score_digits("no digits", ["71432"]) == 0.0


def test_kv_retrieval_word_split():
    uuid = "a1b2c3d4-0000-4000-8000-123456789abc"
    assert ib.score_kv(f'"{uuid}".', [uuid]) == 1.0
    assert ib.score_kv(f"value:{uuid}!", [uuid]) == 1.0
    assert ib.score_kv(f"{uuid}x", [uuid]) == 0.0


def test_math_find_int_vs_str_labels():
    ex = {"metric": "math_find", "answers": ["42"]}  # string label read back from JSON
    assert score(ex, "The answer is 42") == 1.0
    assert score({"metric": "math_find", "answers": [42]}, "42.") == 1.0
    assert score({"metric": "math_find", "answers": [42]}, "4 or 42") == 0.0  # first number only
    assert score({"metric": "math_find", "answers": [42.5]}, "42.5") == 1.0
    assert score({"metric": "math_find", "answers": ["42.5"]}, "42") == 0.0
    assert ib.score_math_find("42.0", [42]) == 1.0  # no crash on a float-looking prediction


def test_code_run_last_word():
    assert ib.score_code_run("The value is: -7.", [-7]) == 1.0
    assert score({"metric": "code_run", "answers": ["-7"]}, "It returns `-7`") == 1.0
    assert ib.score_code_run("-7 is wrong, it is 3", [-7]) == 0.0  # the last word counts
    assert ib.score_code_run("unknown", [3]) == 0.0
    assert ib.score_code_run("", [3]) == 0.0


def test_code_debug_prefixes():
    label = ["func_bad", "B"]
    assert ib.score_code_debug("B. func_bad", label) == 1.0
    assert ib.score_code_debug("B: because", label) == 1.0
    assert ib.score_code_debug("The correct option is: B", label) == 1.0
    assert ib.score_code_debug("the answer is: func_bad", label) == 1.0
    assert ib.score_code_debug("the answer is: Option B", label) == 1.0  # "Option" dropped
    assert ib.score_code_debug("The answer is: C", label) == 0.0
    assert ib.score_code_debug("B", label) == 0.0  # no "B." / "B:" and no prefix: wrong


def test_choice_rules_in_order():
    label = ["Paris", "C"]
    assert ib.score_choice("C", label) == 1.0  # rule 1: first character
    assert ib.score_choice("A because C", label) == 0.0  # rule 1 decides
    assert ib.score_choice("Paris", label) == 1.0  # rule 2: whole prediction
    assert ib.score_choice("so the answer is: C.", label) == 1.0  # rule 3
    assert ib.score_choice("so the option is Paris", label) == 1.0
    assert ib.score_choice("so the answer is B", label) == 0.0
    assert (
        ib.score_choice("i think, C is right", label) == 1.0
    )  # rule 4: first word that is a substring of ABCD
    assert ib.score_choice("", label) == 0.0


def test_choice_normalises_letter_only_labels():
    ex = {
        "metric": "longbook_choice_eng",
        "answers": ["Paris", "C"],
        "options": ["Rome", "Oslo", "Paris", "Bern"],
    }
    assert score(ex, "C") == 1.0


def test_dialogue_and_qa_f1():
    assert ib.score_dialogue("It is probably JOHN.", ["JOHN"]) == 1.0
    assert ib.score_dialogue("Johnny", ["JOHN"]) == 0.0
    assert ib.score_qa_f1("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert ib.score_qa_f1("eiffel", ["eiffel tower", "x"]) == pytest.approx(2 / 3)
    assert ib.score_qa_f1("", ["a b"]) == 0.0
    assert ib.score_qa_f1_zh("巴黎。", ["巴黎"]) == 1.0
    assert ib.score_qa_f1_zh("巴", ["巴黎"]) == pytest.approx(2 / 3)


def test_official_edge_cases_issue_11():
    """Each case is where the official compute_scores.py (OpenBMB/InfiniteBench @ 88b3daa) differs from a
    "cleaner" rule; the harness follows the official one."""
    # En.Dia: the prediction is upper-cased, the label is not
    assert ib.score_dialogue("it is probably john", ["JOHN"]) == 1.0
    assert ib.score_dialogue("It is probably JOHN", ["John"]) == 0.0
    # En.MC rule 4: the first word that is a *substring* of "ABCD" decides, so "AB" ends the search (wrong)
    assert ib.score_choice("maybe AB or C", ["Paris", "C"]) == 0.0
    assert ib.score_choice("maybe D or C", ["Paris", "C"]) == 0.0
    # En.MC rule 3 / Code.Debug: a prediction that ends with the answer prefix is wrong
    assert ib.score_choice("i would say the answer is", ["is", "C"]) == 0.0
    assert ib.score_code_debug("The answer is:", ["fn", "B"]) == 0.0
    # Zh.QA: the official punctuation list has no 《 (so it is kept), but has 》
    assert ib.score_qa_f1_zh("《巴黎》", ["巴黎"]) == pytest.approx(0.8)
    official = "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏."
    assert ib._ZH_PUNCT == official
    # passkey / number_string: the first run of ASCII digits ([0-9]); Arabic-Indic digits are not digits here
    assert ib.score_digits("٣١٤ 31415", ["31415"]) == 1.0
    assert score({"metric": "number_string", "answers": ["0123456789"]}, "٠١٢ 0123456789") == 1.0
    # math_find: the official regex is \d+\.\d+|\d+ (Unicode digits) and int() reads them
    assert ib.score_math_find("٤٢", [42]) == 1.0


def test_kept_deviations_are_named():
    """Deviations from the official scorer kept on purpose (docs/benchmarks.md, "Scorer deviations")."""
    # 1. math_find: the official int("42.0") raises ValueError on an int label; compared as floats here
    assert ib.score_math_find("42.0", [42]) == 1.0
    # 2. labels read back as strings are converted to the task's types first (the official code raises TypeError)
    assert score({"metric": "math_find", "answers": ["42"]}, "42") == 1.0
    assert score({"metric": "code_run", "answers": ["-7"]}, "-7") == 1.0


def test_niah_kv_scored_on_the_first_line():
    """Defect 6: the KV papers stop generating at a newline; the scorer cuts there, so runner, rescore and
    calibration agree."""
    from eval.rescore import rescore_records

    expected = ["eat a sandwich and sit in dolores park on a sunny day."]
    rec = {"metric": "niah_word_overlap", "answers": expected, "task": "niah_kv"}
    two_lines = "eat a sandwich\nand sit in dolores park on a sunny day."
    assert score(rec, two_lines) == pytest.approx(3 / 11)
    assert score(rec, "\n  Eat a sandwich and sit in Dolores Park on a sunny day.\nThen go home.") == 1.0
    assert score({**rec, "metric": "niah_word_overlap12"}, two_lines) == pytest.approx(3 / 12)
    assert (
        score({"metric": "string_match_all", "answers": ["x"], "meta": {"stop_at_newline": True}}, "a\nx")
        == 0.0
    )
    assert score({"metric": "string_match_all", "answers": ["x"]}, "a\nx") == 1.0  # other tasks: whole output
    scored, summary = rescore_records([{**rec, "prediction": two_lines}])
    assert scored[0]["score"] == pytest.approx(3 / 11) and summary["niah_kv"]["score"] == pytest.approx(
        100 * 3 / 11, abs=0.01
    )


def test_rouge_lsum_and_math_calc():
    assert ib.score_rouge_lsum("the cat sat.\nit slept.", ["the cat sat.\nit slept."]) == pytest.approx(1.0)
    assert 0.0 < ib.score_rouge_lsum("the cat sat", ["the cat sat on the mat"]) < 1.0
    assert ib.score_math_calc("[1, 4, 8]", [1, 4, 8]) == 1.0
    assert ib.score_math_calc("1, 4, 9, 5", [1, 4, 8, 5]) == 0.5  # prefix stops at the first error
    assert score({"metric": "math_calc", "answers": [["1", "4"]]}, "1 4") == 1.0


def test_ruler_all_vs_part():
    refs = ["1234567", "7654321"]
    assert string_match_all("Numbers: 1234567", refs) == 0.5
    assert string_match_part("Numbers: 1234567", refs) == 1.0
    assert string_match_all("ABC-def and 7654321 1234567", ["abc-DEF"]) == 1.0  # case-insensitive
    assert string_match_all("\x00 1234567 \x1f", ["1234567"]) == 1.0
    assert string_match_part("nothing", refs) == 0.0
    assert aggregate([1.0, 0.5, 0.0]) == 50.0


def test_niah_day_period_and_denominators():
    perfect = "Eat a sandwich and sit in Dolores Park on a sunny day."
    assert niah_word_overlap(perfect, ["eat a sandwich and sit in dolores park on a sunny day."]) == 1.0
    no_period = "eat a sandwich and sit in dolores park on a sunny day"
    assert niah_word_overlap(
        no_period, ["eat a sandwich and sit in dolores park on a sunny day."]
    ) == pytest.approx(10 / 11)
    assert score(
        {
            "metric": "niah_word_overlap12",
            "answers": ["eat a sandwich and sit in dolores park on a sunny day."],
        },
        perfect,
    ) == pytest.approx(11 / 12)
    assert score({"metric": "niah_substring", "answers": ["1234567"]}, "  It is 1234567.") == 1.0
    assert score({"metric": "niah_substring", "answers": ["1234567"]}, "123 4567") == 0.0


def test_score_accepts_example_and_rejects_unknown_metric():
    ex = Example("1", "infinitebench", "passkey", "ctx", "q", "The pass key is", ["123"], metric="passkey")
    assert score(ex, " 123.") == 1.0
    with pytest.raises(BenchmarkError, match="unknown metric"):
        score({"metric": "nope", "answers": []}, "x")
