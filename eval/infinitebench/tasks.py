"""InfiniteBench task registry: yarn_mistral templates, official budgets, scorers, answer types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eval.errors import BenchmarkError

# Official max_new_tokens (benchmarks.md §1.2, MInference values).
MAX_NEW_TOKENS: dict[str, int] = {
    "passkey": 6,
    "number_string": 12,
    "kv_retrieval": 50,
    "longbook_sum_eng": 1200,
    "longbook_qa_eng": 40,
    "longbook_choice_eng": 40,
    "longdialogue_qa_eng": 40,
    "longbook_qa_chn": 40,
    "code_debug": 5,
    "math_find": 3,
    "code_run": 5,
    "math_calc": 30000,
}
METRICS: dict[str, str] = {t: t for t in MAX_NEW_TOKENS}
METRICS.update({"longbook_sum_eng": "rouge_lsum", "longbook_qa_eng": "qa_f1", "longbook_qa_chn": "qa_f1_zh"})
TASKS: tuple[str, ...] = tuple(MAX_NEW_TOKENS)
PAPER_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t not in ("math_calc", "code_run"))
SYNTHETIC_TASKS: tuple[str, ...] = (
    "passkey",
    "number_string",
    "kv_retrieval",
    "math_find",
    "code_run",
    "math_calc",
)
# Harness variants (generated only): same template and scorer as their base task.
VARIANTS: dict[str, str] = {"kv_retrieval_short": "kv_retrieval"}
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
MATH_CALC_PREAMBLE = (
    "Let us calculate the intermediate values of an expression.\n\nExpression: 1 + 3 + 4\nValues: [1, 4, 8]"
    "\n\nExpression: 8 - 3 + 2 - 4\nValues: [8, 5, 7, 3]\n\nExpression: "
)


def canonical_task(name: str) -> str:
    """Map a paper alias to its key; raise BenchmarkError listing the choices for unknown names."""
    name = ALIASES.get(name, name)
    if name not in TASKS and name not in VARIANTS:
        choices = ", ".join([*TASKS, *VARIANTS])
        raise BenchmarkError(f"unknown InfiniteBench task {name!r}; choose one of: {choices}")
    return name


@dataclass(frozen=True)
class PromptParts:
    """How one raw sample maps onto the Example prompt fields."""

    template: str
    question: str
    prefix_sep: str
    answer_prefix: str


def _split_tail(text: str, marker: str) -> tuple[str, str, str]:
    """Split ``text`` at the last ``marker`` into (head, whitespace between, marker+rest)."""
    idx = text.rfind(marker)
    if idx < 0:
        return text, "", ""
    head = text[:idx]
    stripped = head.rstrip()
    return stripped, head[len(stripped) :], text[idx:]


def _options_block(options: list[str]) -> str:
    return "\n".join(f"{letter}. {opt}" for letter, opt in zip("ABCD", options, strict=False))


def prompt_parts(task: str, raw_input: str, options: list[str]) -> PromptParts:
    """The yarn_mistral template (benchmarks.md §1.3) split into template/question/answer prefix."""
    base = VARIANTS.get(task, task)
    ctx2 = "\n\n{context}\n\n{question}"
    if base == "passkey":
        head = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information."
        return PromptParts(head + ctx2, raw_input, "\n\n", "The pass key is")
    if base == "number_string":
        head = "There is an important info hidden inside a lot of irrelevant text. Find it. I will quiz you about the important information there."
        return PromptParts(head + ctx2, raw_input, "\n\n", "The sequence of digits is")
    if base == "kv_retrieval":
        q, sep, prefix = _split_tail(raw_input, "The value associated with the specified key is")
        head = "Extract the value corresponding to the specified key in the JSON object below."
        return PromptParts(head + ctx2, q, sep, prefix)
    if base == "longbook_sum_eng":
        return PromptParts("Summarize the book below.\n\n{context}{question}", "", "\n\n", "Summary:")
    if base == "longbook_choice_eng":
        q = f"Question: {raw_input}\n{_options_block(options)}"
        return PromptParts(
            "Read the book and answer the question." + ctx2, q, "\n\n", "The letter of the correct answer is"
        )
    if base == "longbook_qa_eng":
        head = "Read the book and answer the question. Be very concise in your answer."
        return PromptParts(head + ctx2, f"Question: {raw_input}", "\n\n", "Answer:")
    if base == "longbook_qa_chn":
        return PromptParts("阅读以下书籍然后回答问题。" + ctx2, f"问题：{raw_input}", "\n\n", "答案：")
    if base == "longdialogue_qa_eng":
        head = 'Below is a dialogue script where one random occurrence of a character name is replaced with "$$MASK$$", and you should try to guess who that character is.'
        return PromptParts(
            head + "\n\n{context}{question}",
            "",
            "\n\n",
            "The name that has been replaced with $$MASK$$ is likely",
        )
    if base == "math_find":
        m = re.search(r"The .+ of", raw_input)
        target = m.group(0)[4:-3] if m else "answer"
        return PromptParts(
            f"What is the {target} in the following list?\n\n{{context}}{{question}}", "", "\n\n", raw_input
        )
    if base == "code_debug":
        head = "Following is a Python code where exactly one of the functions/methods has a deliberate error that makes it crash."
        return PromptParts(
            head + ctx2, f"Options:\n{_options_block(options)}", "\n\n", "The correct option is:"
        )
    if base == "code_run":
        m = re.search(r"func_[0-9]+\(-?[0-9]+\)", raw_input)
        call = m.group(0) if m else "func_0(0)"
        func = call.split("(")[0]
        head = f"There is a function called {func} in the following Python code."
        return PromptParts(
            head + ctx2, f"Please compute the exact value of {call}.", " ", f"The value of {call} is"
        )
    if base == "math_calc":
        return PromptParts(MATH_CALC_PREAMBLE + "{context}{question}", "", "\n", "Values:")
    raise BenchmarkError(f"no template for InfiniteBench task {task!r}")


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
    base = VARIANTS.get(task, task)
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
