"""InfiniteBench task registry: yarn_mistral templates and budgets (eval/templates/infinitebench.yaml), scorers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eval import registry
from eval.errors import BenchmarkError
from eval.templates import fill, load

_DATA = load("infinitebench")
TEMPLATES: dict[str, str] = _DATA["templates"]
ANSWER_MARKERS: dict[str, str | None] = _DATA["answer_markers"]
# Generation budgets per profile family: official (OpenBMB/InfiniteBench src/eval_utils.py) and reference
# (TANIGUCHIREI/ASL eval/infinite_bench/eval_utils.py: 15/20/80 for passkey/number_string/kv_retrieval).
BUDGETS: dict[str, dict[str, int]] = _DATA["max_new_tokens"]
MAX_NEW_TOKENS: dict[str, int] = BUDGETS["official"]
TASKS: tuple[str, ...] = tuple(MAX_NEW_TOKENS)  # the upstream tasks, one template each
PAPER_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t not in ("math_calc", "code_run"))
ALIASES: dict[str, str] = {
    "Retrieve.PassKey": "passkey",
    "Retrieve.Number": "number_string",
    "Retrieve.KV": "kv_retrieval",
    "En.Sum": "longbook_sum_eng",
    "En.QA": "longbook_qa_eng",
    "En.MC": "longbook_choice_eng",
    "En.Dia": "longdialogue_qa_eng",
    "Zh.QA": "longbook_qa_chn",
    "Code.Debug": "code_debug",
    "Math.Find": "math_find",
    "Code.Run": "code_run",
    "Math.Calc": "math_calc",
}
#: records in each official task file (xinrongzhang2022/InfiniteBench; docs/benchmarks.md §1.2): what a run
#: on the Hub's data will count, for plans made before the data is fetched
OFFICIAL_RECORDS: dict[str, int] = {
    "passkey": 590, "number_string": 590, "kv_retrieval": 500, "longbook_sum_eng": 103, "longbook_qa_eng": 351,
    "longbook_choice_eng": 229, "longdialogue_qa_eng": 200, "longbook_qa_chn": 175, "code_debug": 394,
    "math_find": 350, "code_run": 400, "math_calc": 50,
}  # fmt: skip
_FIND_TARGET = re.compile(r"The .+ of")  # create_prompt's math_find rule
_FUNC_CALL = re.compile(r"func_[0-9]+\(\-?[0-9]+\)")  # create_prompt's code_run rule


def __getattr__(name: str) -> Any:
    """Read lazily from the task registry: ``SYNTHETIC_TASKS`` (upstream tasks with an offline generator),
    ``VARIANTS`` (harness tasks -> the upstream template they reuse) and ``METRICS`` (task -> metric)."""
    if name == "SYNTHETIC_TASKS":
        return registry.names("infinitebench", upstream=True, generated=True)
    if name == "VARIANTS":
        return {t: base_task(t) for t in registry.names("infinitebench", upstream=False)}
    if name == "METRICS":
        return {s.task: s.metric for s in registry.tasks().values() if s.family == "infinitebench"}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def base_task(task: str) -> str:
    """The upstream task whose template, budget and answer types ``task`` uses (itself for upstream tasks)."""
    return registry.spec("infinitebench", task).template


def canonical_task(name: str) -> str:
    """Map a paper alias to its key; raise BenchmarkError listing the choices for unknown names."""
    name = ALIASES.get(name, name)
    local = registry.names("infinitebench", upstream=False)
    if name not in TASKS and name not in local:
        choices = ", ".join([*TASKS, *local])
        raise BenchmarkError(f"unknown InfiniteBench task {name!r}; choose one of: {choices}")
    return name


def budget(task: str, family: str = "official") -> int:
    """max_new_tokens of ``task`` for the ``official`` or ``reference`` budget set."""
    return BUDGETS[family][base_task(task)]


@dataclass(frozen=True)
class PromptParts:
    """How one raw sample maps onto the Example prompt fields."""

    template: str
    question: str
    prefix_sep: str
    answer_prefix: str


def _fields(base: str, raw_input: str, options: list[str]) -> dict[str, str]:
    fields = {"input": raw_input, "question": raw_input}
    if "OPTION_A" in TEMPLATES[base]:
        if len(options) != 4:
            raise BenchmarkError(f"{base}: expected 4 options, got {len(options)}")
        fields.update({f"OPTION_{letter}": opt for letter, opt in zip("ABCD", options, strict=True)})
    if base == "math_find":
        m = _FIND_TARGET.search(raw_input)
        if m is None:
            raise BenchmarkError(f"math_find: no 'The ... of' target in input {raw_input[:60]!r}")
        fields["prefix"] = f"What is {m.group(0).lower()[:-3]} in the following list?"
    if base == "code_run":
        m = _FUNC_CALL.search(raw_input)
        if m is None:
            raise BenchmarkError(f"code_run: no func_N(x) call in input {raw_input[:60]!r}")
        fields["func_call"], fields["func"] = m.group(0), m.group(0).split("(")[0]
    return fields


def prompt_parts(task: str, raw_input: str, options: list[str]) -> PromptParts:
    """The upstream template filled for one record, split into template / question / answer prefix.

    ``head + context + lead + question + prefix_sep + answer_prefix`` is byte-equal to the upstream prompt.
    """
    base = base_task(task)
    if base not in TEMPLATES:
        raise BenchmarkError(f"no template for InfiniteBench task {task!r}")
    full = fill(TEMPLATES[base], **_fields(base, raw_input, options))
    head, _, tail = full.partition("{context}")
    marker = ANSWER_MARKERS[base]
    if marker is None:
        m = _FIND_TARGET.search(tail)
        at = m.start() if m else len(tail)
    else:
        at = tail.rfind(marker)
        at = len(tail) if at < 0 else at
    body, prefix = tail[:at], tail[at:]
    question = body.strip()
    if not question:
        return PromptParts(head + "{context}{question}", "", body, prefix)
    lead = body[: len(body) - len(body.lstrip())]
    sep = body[len(body.rstrip()) :]
    return PromptParts(head + "{context}" + lead + "{question}", question, sep, prefix)


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise BenchmarkError(f"bad numeric label {value!r}")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError as err:
            raise BenchmarkError(f"bad numeric label {value!r}") from err


def normalize_answers(task: str, answer: Any, options: list[str]) -> list[Any]:
    """Normalise raw labels to the types the official scorers compare with (benchmarks.md §1.1)."""
    base = base_task(task)
    items = list(answer) if isinstance(answer, list | tuple) else [answer]
    if base in ("math_find", "code_run"):
        value = _to_number(items[0])
        return [int(value) if base == "code_run" else value]
    if base == "math_calc":
        if items and isinstance(items[0], list | tuple):
            items = list(items[0])
        return [int(_to_number(x)) for x in items]
    if base in ("longbook_choice_eng", "code_debug"):
        first = str(items[0]).strip()
        if first in ("A", "B", "C", "D") and first not in options:
            idx = "ABCD".index(first)
            return [options[idx] if idx < len(options) else first, first]
        if first in options:
            return [first, "ABCD"[options.index(first)]]
        if len(items) >= 2 and str(items[1]) in ("A", "B", "C", "D"):
            return [first, str(items[1])]
        raise BenchmarkError(f"{task}: answer {first!r} is not one of the options")
    return [str(x) for x in items]
