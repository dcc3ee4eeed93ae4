"""Pure scorers: ``score(example, prediction) -> float`` in [0, 1], dispatched on ``example.metric``.

Post-processing that belongs to a task lives here, so the runner, ``eval.rescore`` and the calibration
script agree: niah_kv (the KV papers' needle test, which stops generating at the first newline) is scored
on the first line of the stripped prediction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from eval.errors import BenchmarkError
from eval.infinitebench import scoring as ib
from eval.infinitebench.tasks import normalize_answers
from eval.schema import Example

NIAH_KV_EXPECTED = "eat a sandwich and sit in dolores park on a sunny day.".split()
FIRST_LINE_METRICS = frozenset({"niah_word_overlap", "niah_word_overlap12"})


def first_line(pred: str) -> str:
    """The stripped prediction up to its first newline (generation that stops at "\\n", as in the KV papers)."""
    return pred.strip().split("\n", 1)[0]


def prediction_for(data: Mapping[str, Any], prediction: str) -> str:
    """The part of ``prediction`` that is scored: the first line for niah_kv (metric or meta.stop_at_newline)."""
    meta = data.get("meta") or {}
    if data.get("metric") in FIRST_LINE_METRICS or meta.get("stop_at_newline"):
        return first_line(prediction)
    return prediction


def ruler_postprocess(pred: str) -> str:
    """RULER post-processing: strip, map control characters to newlines, strip again."""
    return re.sub(r"[\x00-\x1f]", "\n", pred.strip()).strip()


def string_match_all(pred: str, refs: list[Any]) -> float:
    """Fraction of references contained (case-insensitively) in the prediction."""
    if not refs:
        return 0.0
    low = ruler_postprocess(pred).lower()
    return sum(str(r).lower() in low for r in refs) / len(refs)


def string_match_part(pred: str, refs: list[Any]) -> float:
    """1 if any reference is contained (case-insensitively) in the prediction."""
    low = ruler_postprocess(pred).lower()
    return float(any(str(r).lower() in low for r in refs))


def niah_substring(pred: str, refs: list[Any]) -> float:
    """ASL/MInference NIAH: the needle's number string is a substring of the stripped output."""
    return float(any(str(r) in pred.strip() for r in refs))


def niah_word_overlap(pred: str, refs: list[Any], denominator: int | None = None) -> float:
    """KV-papers' NIAH: |set(pred.lower().split()) & expected| / |expected| ("day." keeps its period).

    ``denominator`` None uses the unique expected words (11, PyramidKV/FastKV); 12 is GemFilter's.
    """
    expected = str(refs[0]).lower().split() if refs else NIAH_KV_EXPECTED
    hits = set(pred.lower().split()) & set(expected)
    return len(hits) / (denominator or len(set(expected)))


SCORERS: dict[str, Callable[[str, list[Any]], float]] = {
    "passkey": ib.score_digits,
    "number_string": ib.score_digits,
    "kv_retrieval": ib.score_kv,
    "math_find": ib.score_math_find,
    "code_run": ib.score_code_run,
    "code_debug": ib.score_code_debug,
    "longbook_choice_eng": ib.score_choice,
    "longdialogue_qa_eng": ib.score_dialogue,
    "qa_f1": ib.score_qa_f1,
    "qa_f1_zh": ib.score_qa_f1_zh,
    "rouge_lsum": ib.score_rouge_lsum,
    "math_calc": ib.score_math_calc,
    "string_match_all": string_match_all,
    "string_match_part": string_match_part,
    "niah_substring": niah_substring,
    "niah_word_overlap": niah_word_overlap,
    "niah_word_overlap12": lambda p, r: niah_word_overlap(p, r, denominator=12),
}
#: the ASL reference code's more lenient rules, used only with ``benchmark.reference_scoring=true``
REFERENCE_SCORERS: dict[str, Callable[[str, list[Any]], float]] = {
    "kv_retrieval": ib.score_kv_reference,
    "math_find": ib.score_math_find_reference,
}
_TYPED = {"math_find", "code_run", "math_calc", "passkey", "number_string", "kv_retrieval"}


def score(example: Example | Mapping[str, Any], prediction: str) -> float:
    """Score one prediction against an Example or a record dict with ``metric`` and ``answers``."""
    data = example.to_dict() if isinstance(example, Example) else dict(example)
    metric = data.get("metric")
    if metric not in SCORERS:
        raise BenchmarkError(f"unknown metric {metric!r}; choose one of: {', '.join(SCORERS)}")
    answers = list(data.get("answers") or [])
    if metric in _TYPED:  # labels read back as strings must not silently score 0 (benchmarks.md §1.1)
        answers = normalize_answers(metric, answers, list(data.get("options") or []))
    meta = data.get("meta") or {}
    scorer = REFERENCE_SCORERS.get(metric) if meta.get("reference_scoring") else None
    return float((scorer or SCORERS[metric])(prediction_for(data, prediction or ""), answers))


def excluded_by_reference(example: Example | Mapping[str, Any], prediction: str) -> bool:
    """True when ``benchmark.reference_scoring`` leaves this sample out of the means: the ASL reference
    code averages RULER scores over non-empty predictions only."""
    data = example.to_dict() if isinstance(example, Example) else dict(example)
    meta = data.get("meta") or {}
    return (
        bool(meta.get("reference_scoring"))
        and data.get("benchmark") == "ruler"
        and not (prediction or "").strip()
    )


def aggregate(scores: list[float]) -> float:
    """Task score in percent: the plain mean x 100, rounded to 2 decimals."""
    return round(100.0 * sum(scores) / len(scores), 2) if scores else 0.0
