"""Rendered prompts equal the upstream strings, byte for byte, in the official and reference profiles.

The expected strings are rebuilt here the way the upstream code builds them (OpenBMB/InfiniteBench @ 88b3daa
src/eval_utils.py create_prompt + yarn_mistral templates; NVIDIA/RULER @ c3f5e3b and TANIGUCHIREI/ASL @ 9e1ec0c
prepare.py + task scripts; [ref]'s needle_tools.py), from literal copies of the upstream strings below, and
independently of eval/templates/*.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eval import registry
from eval.infinitebench import synthetic as ib_synth
from eval.infinitebench.loader import load_task
from eval.niah import generate_grid
from eval.prompts import build_prompt_text
from eval.ruler import tasks as ruler_tasks

# Only tasks registered with upstream=True are pinned to upstream strings; harness tasks have LOCAL rows below.
IB_TASKS = registry.names("infinitebench", upstream=True)
RULER_UPSTREAM = registry.names("ruler", upstream=True)

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
YARN = {
    "passkey": "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information.\n\n{context}\n\n{input}\n\nThe pass key is",
    "number_string": "There is an important info hidden inside a lot of irrelevant text. Find it. I will quiz you about the important information there.\n\n{context}\n\n{input}\n\nThe sequence of digits is",
    "kv_retrieval": "Extract the value corresponding to the specified key in the JSON object below.\n\n{context}\n\n{input}",
    "longbook_sum_eng": "Summarize the book below.\n\n{context}\n\nSummary:",
    "longbook_choice_eng": "Read the book and answer the question.\n\n{context}\n\nQuestion: {question}\nA. {OPTION_A}\nB. {OPTION_B}\nC. {OPTION_C}\nD. {OPTION_D}\n\nThe letter of the correct answer is",
    "longbook_qa_eng": "Read the book and answer the question. Be very concise in your answer.\n\n{context}\n\nQuestion: {question}\nAnswer:",
    "longbook_qa_chn": "阅读以下书籍然后回答问题。\n\n{context}\n\n问题：{question}\n答案：",
    "math_find": "{prefix}\n\n{context}\n\n{input}",
    "math_calc": "Let us calculate the intermediate values of an expression.\n\nExpression: 1 + 3 + 4\nValues: [1, 4, 8]\n\nExpression: 8 - 3 + 2 - 4\nValues: [8, 5, 7, 3]\n\nExpression: {context}\nValues:",
    "code_run": "There is a function called {func} in the following Python code.\n\n{context}\n\nPlease compute the exact value of {func_call}. The value of {func_call} is",
    "code_debug": "Following is a Python code where exactly one of the functions/methods has a deliberate error that makes it crash.\n\n{context}\n\nOptions:\nA. {OPTION_A}\nB. {OPTION_B}\nC. {OPTION_C}\nD. {OPTION_D}\n\nThe correct option is:",
    "longdialogue_qa_eng": 'Below is a dialogue script where one random occurrence of a character name is replaced with "$$MASK$$", and you should try to guess who that character is.\n\n{context}\n\nThe name that has been replaced with $$MASK$$ is likely',
}  # fmt: skip
RULER = {
    "niah": ("Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for {query} mentioned in the provided text?",
             " The special magic {type_needle_v} for {query} mentioned in the provided text are"),
    "vt": ("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\nQuestion: Find all variables that are assigned the value {query} in the text above.",
           " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are assigned the value {query}, they are: "),
    "cwe": ("Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?",
            " Answer: The top 10 words that appear most often in the list are:"),
    "fwe": ("Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text?",
            " Answer: According to the coded text above, the three most frequently appeared words are:"),
    "qa": ("Answer the question based on the given documents. Only give me the answer and do not output any other words.\n\nThe following are given documents.\n\n{context}\n\nAnswer the question based on the given documents. Only give me the answer and do not output any other words.\n\nQuestion: {query}",
           " Answer:"),
}  # fmt: skip
WRAPPERS = {
    "base": "{task_template}",
    "llama3.1": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>{task_template}<|eot_id|><|start_header_id|>assistant<|end_header_id|>",
    "qwen2.5": "<|im_start|>system \n You are a helpful assistant.<|im_end|><|im_start|>user \n {task_template}<|im_end|><|im_start|>assistant \n ",
}  # fmt: skip
NIAH_ASL = "Write a high-quality answer for the given question using only the provided search results (some of which might be irrelevant).\n{context}\n\nQuestion: {question} Don't give information outside the document or repeat your findings. Keep your response short and direct. Answer: "
NIAH_KV = "<|im_start|> This is a very long story book: <book> {context} </book>.\n Based on the content of the book, Question: {q}\nAnswer:"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from asl.models import get_model_spec
    from asl.models.embedded import ensure_checkpoint

    return AutoTokenizer.from_pretrained(ensure_checkpoint(get_model_spec("smollm2_135m")))


class LlamaVocab:
    """The embedded tokenizer, but its vocabulary also has Llama-3's header token (selects [ref]'s llama3.1 wrapper)."""

    def __init__(self, tok):
        self._tok = tok

    def get_vocab(self):
        return {**self._tok.get_vocab(), "<|start_header_id|>": -1}

    def __getattr__(self, name):
        return getattr(self._tok, name)


def upstream_infinitebench(task: str, rec: dict) -> str:
    """create_prompt(eg, task, "yarn-mistral") as in the official eval_utils.py."""
    tpl, fields = YARN[task], {"context": rec["context"], "input": rec["input"], "question": rec["input"]}
    if "OPTION_A" in tpl:
        fields.update({f"OPTION_{c}": o for c, o in zip("ABCD", rec["options"], strict=True)})
    if task == "code_run":
        call = re.findall(r"func_[0-9]+\(\-?[0-9]+\)", rec["input"])[0]
        fields.update(func=call.split("(")[0], func_call=call)
    if task == "math_find":
        fields["prefix"] = (
            f"What is {re.findall(r'The .+ of', rec['input'])[0].lower()[:-3]} in the following list?"
        )
    return tpl.format(**fields)


@pytest.mark.parametrize("task", IB_TASKS)
def test_infinitebench_prompts_equal_upstream(tok, task):
    import json

    rec = json.loads(
        (FIXTURES / "infinitebench" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )
    want = upstream_infinitebench(task, rec)
    (ex,) = [e for e in load_task(task, FIXTURES / "infinitebench", family="official") if e.meta["line"] == 1]
    assert build_prompt_text(ex, tok, "official")[0] == want
    (ref,) = [
        e for e in load_task(task, FIXTURES / "infinitebench", family="reference") if e.meta["line"] == 1
    ]
    system = tok.apply_chat_template(
        [{"role": "system", "content": want}], tokenize=False, add_generation_prompt=True
    )
    assert build_prompt_text(ref, tok, "reference")[0] == system
    budgets = {"passkey": (6, 15), "number_string": (12, 20), "kv_retrieval": (50, 80)}
    assert (ex.max_new_tokens, ref.max_new_tokens) == budgets.get(task, (ex.max_new_tokens,) * 2)


def _kind(task: str) -> str:
    return "niah" if task.startswith("niah") else ("qa" if task.startswith("qa") else task)


def upstream_ruler(task: str, ex, wrapper: str, reference: bool) -> str:
    """prepare.py (model template + answer prefix) and the task script's formatting, for one example."""
    t, p = RULER[_kind(task)]
    if reference and task == "vt":
        p = p.replace("are assigned", "are assgined")  # [ref]'s constants keep the older typo
    template = wrapper.format(task_template=t) + p
    meta = ex.meta
    if _kind(task) == "niah":
        type_v = "uuids" if task in ("niah_single_3", "niah_multikey_3") else "numbers"
        if meta["singular"]:
            for old, new in (("Some", "A"), ("are all", "is"), ("are", "is"), ("answers", "answer")):
                template = template.replace(old, new)
            type_v = type_v[:-1]
        return template.format(type_needle_v=type_v, context=ex.context, query=meta["query"])
    if task == "cwe":
        shot_answers = " ".join(f"{i + 1}. {w}" for i, w in enumerate(meta["icl"]["answers"]))
        shot = (
            template.format(context=meta["icl"]["context"], query="")
            + ("" if reference else " ")
            + shot_answers
        )
        return shot + "\n" + template.format(context=ex.context, query="")
    if task == "vt":
        icl, value = meta["icl"], meta["query"]
        text = template.format(context=ex.context, query=value, num_v=5)
        if (
            reference
        ):  # variable_tracking.py @ [ref]: collapsed one-shot template, inserted after the wrapper head
            cut, cut_ans = template.index(t[:20]), template.index(p[:10])
            icl_tpl = " ".join(template[cut:cut_ans].split()[:-1]) + template[cut_ans:]
            shot = (
                icl_tpl.format(context=icl["context"], query=icl["query"], num_v=5)
                + " "
                + " ".join(icl["answers"])
                + "\n\n"
            )
            cut = text.index(t[:20])
            return text[:cut] + " " + shot + "\n\n" + text[cut:]
        shot = (
            (t + p).format(context=icl["context"], query=icl["query"], num_v=5)
            + " "
            + " ".join(icl["answers"])
            + "\n"
        )
        return shot + "\n" + text
    return template.format(context=ex.context, query=meta.get("query", ""))


@pytest.mark.filterwarnings("ignore:RULER qa_.*exhausted")  # [ref] caps the tiny fixture pool (qa.py)
@pytest.mark.parametrize("task", RULER_UPSTREAM)
def test_ruler_prompts_equal_upstream(tok, task):
    length, data = (1200 if task in ("vt", "cwe") else 700), str(FIXTURES)
    cases = [("official", tok, "base"), ("reference", tok, "qwen2.5"),
             ("reference", LlamaVocab(tok), "llama3.1")]  # fmt: skip
    for profile, tok, wrapper in cases:
        (ex,) = ruler_tasks.generate(task, tok, length, 1, seed=5, profile=profile, data_dir=data)
        want = upstream_ruler(task, ex, WRAPPERS[wrapper], profile == "reference")
        assert build_prompt_text(ex, tok, profile)[0] == want, (task, profile, wrapper)
    if task.startswith("niah_single") or task.startswith("niah_multikey"):
        assert "You is a helpful assistant." in want  # [ref]'s singular rewrite reaches its system prompt


def test_niah_prompts_equal_upstream(tok):
    for profile in ("official", "reference"):
        (ex,) = generate_grid(tok, [700], [50], 1, seed=0, variant="asl", profile=profile)
        city = re.search(r"The special magic (.+) number is: ", ex.context).group(1)
        raw = NIAH_ASL.format(context=ex.context, question=f"What is the special magic {city} number?")
        want = raw if profile == "official" else tok.apply_chat_template(
            [{"role": "system", "content": raw}], tokenize=False, add_generation_prompt=True)  # fmt: skip
        assert build_prompt_text(ex, tok, profile)[0] == want
    for question, q in (("pyramidkv", "The best thing to do in San Francisco is: "),
                        ("classic", "What is the best thing to do in San Francisco?")):  # fmt: skip
        (ex,) = generate_grid(
            tok, [700], [50], 1, seed=0, variant="kv", kv_question=question, profile="official"
        )
        assert build_prompt_text(ex, tok, "official")[0] == NIAH_KV.format(context=ex.context, q=q)


TWOHOP = "Some special magic words and numbers are hidden within the following text. Each special magic word leads to a special magic number. Make sure to memorize them. I will quiz you about them afterwards.\n{context}\nWhat is the special magic number for the special magic word that belongs to {query}? The special magic number for the special magic word that belongs to {query} is"
# Harness tasks (registered with upstream=False): one row each, the official-profile prompt of an example.
LOCAL = {
    "infinitebench/kv_retrieval_short": lambda ex: YARN["kv_retrieval"].format(
        context=ex.context, input=f"\n{ex.question}\nThe value associated with the specified key is: "),
    "ruler/niah_twohop": lambda ex: TWOHOP.format(context=ex.context, query=ex.meta["query"]),
}  # fmt: skip
LOCAL_TASKS = [s.name for s in registry.tasks().values() if not s.upstream]


@pytest.mark.parametrize("name", LOCAL_TASKS)
def test_local_prompts_equal_their_row(tok, name):
    assert name in LOCAL, f"{name} is a harness task (upstream=False): add its row to LOCAL"
    family, _, task = name.partition("/")
    generate = ib_synth.generate if family == "infinitebench" else ruler_tasks.generate
    for seed in (0, 1):
        (ex,) = generate(task, tok, 700, 1, seed, "official")
        assert build_prompt_text(ex, tok, "official")[0] == LOCAL[name](ex)
    assert set(LOCAL) == set(LOCAL_TASKS)  # no row outlives its task
