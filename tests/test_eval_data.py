"""Official-file loader, suite validation, truncation, prompt profiles and re-scoring."""

from __future__ import annotations

import json
import warnings

import pytest

from eval.errors import BenchmarkError, MissingDataError, SkippedTask
from eval.infinitebench.loader import load_task_file
from eval.prompts import build_prompt_ids, build_prompt_text
from eval.rescore import main as rescore_main
from eval.schema import Example
from eval.suite import load_examples
from eval.truncation import middle_truncate


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from asl.models import get_model_spec
    from asl.models.embedded import ensure_checkpoint

    return AutoTokenizer.from_pretrained(ensure_checkpoint(get_model_spec("smollm2_135m")))


def _write(path, records):
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)
    )


def test_loader_normalises_types(tmp_path):
    _write(
        tmp_path / "math_find.jsonl",
        [
            {
                "id": 0,
                "context": "[1, 5, 3]",
                "input": "The largest number of the list is: ",
                "answer": ["5"],
            }
        ],
    )
    _write(
        tmp_path / "code_run.jsonl",
        [
            {
                "id": 3,
                "context": "def func_1(x):\n    return x + 1",
                "input": "Compute func_1(-2)",
                "answer": "-1",
            }
        ],
    )
    _write(tmp_path / "math_calc.jsonl", [{"context": "1 + 2", "answer": [["1", "3"]]}])
    _write(
        tmp_path / "longbook_choice_eng.jsonl",
        [
            {
                "id": 1,
                "context": "book",
                "input": "Where?",
                "answer": ["Paris"],
                "options": ["Rome", "Oslo", "Paris", "Bern"],
            }
        ],
    )
    _write(
        tmp_path / "kv_retrieval.jsonl",
        [
            {
                "id": 2,
                "context": "JSON data:\n{}",
                "input": 'Key: "k"\nThe value associated with the specified key is: ',
                "answer": ["v"],
            }
        ],
    )
    (find,) = load_task_file("math_find", tmp_path)
    assert find.answers == [5] and find.max_new_tokens == 3 and find.meta["line"] == 1
    assert build_prompt_text(find, None, "official")[0].startswith(
        "What is the largest number in the following list?\n\n[1, 5, 3]"
    )
    (run,) = load_task_file("code_run", tmp_path)
    assert run.answers == [-1] and run.answer_prefix == "The value of func_1(-2) is"
    (calc,) = load_task_file("math_calc", tmp_path)
    assert calc.answers == [1, 3] and calc.id == "math_calc-0"
    (choice,) = load_task_file("longbook_choice_eng", tmp_path)
    assert choice.answers == ["Paris", "C"] and "C. Paris" in choice.question
    (kv,) = load_task_file("kv_retrieval", tmp_path)
    raw = 'Extract the value corresponding to the specified key in the JSON object below.\n\nJSON data:\n{}\n\nKey: "k"\nThe value associated with the specified key is: '
    assert (
        build_prompt_text(kv, None, "official")[0] == raw
    )  # official bytes survive the question/prefix split


def test_loader_errors(tmp_path):
    _write(
        tmp_path / "passkey.jsonl", [{"id": 0, "context": "c", "input": "q", "answer": ["1"]}, "{not json"]
    )
    with pytest.raises(BenchmarkError, match=r"passkey\.jsonl:2: malformed JSON"):
        load_task_file("passkey", tmp_path)
    with pytest.raises(MissingDataError, match="needs real data"):
        load_task_file("longbook_qa_eng", None)
    with pytest.raises(MissingDataError, match="not found"):
        load_task_file("longbook_qa_eng", tmp_path)
    _write(tmp_path / "code_run.jsonl", [{"id": 0, "context": "c", "input": "func_1(2)", "answer": [3]}])
    with pytest.raises(
        BenchmarkError, match=r"^InfiniteBench code_run: num_samples=2 exceeds the 1 records available$"
    ):
        load_task_file("code_run", tmp_path, limit=2)


def test_suite_validation(tok):
    base = {
        "name": "t",
        "family": "infinitebench",
        "tasks": ["passkey"],
        "context_length": 1000,
        "num_samples": 1,
    }
    with pytest.raises(BenchmarkError, match="unknown InfiniteBench task 'nope'; choose one of: passkey"):
        load_examples({**base, "tasks": ["nope"]}, tok, 0)
    with pytest.raises(BenchmarkError, match="num_samples must be >= 1"):
        load_examples({**base, "num_samples": 0}, tok, 0)
    with pytest.raises(BenchmarkError, match="needs real data"):
        load_examples({**base, "tasks": ["En.QA"]}, tok, 0)
    with pytest.raises(BenchmarkError, match="unknown RULER task"):
        load_examples({**base, "family": "ruler", "tasks": ["niah_single_9"]}, tok, 0)
    with pytest.raises(BenchmarkError, match="unknown benchmark family"):
        load_examples({**base, "family": "longbench"}, tok, 0)
    (ex,) = load_examples({**base, "tasks": ["Retrieve.PassKey"], "max_new_tokens": 4}, tok, 0)
    assert ex.task == "passkey" and ex.max_new_tokens == 4 and ex.meta["max_prompt_tokens"] == 996


def test_suite_reads_files_when_data_dir_given(tmp_path, tok):
    _write(
        tmp_path / "longbook_qa_eng.jsonl",
        [{"id": i, "context": "word " * 3000, "input": "Who?", "answer": ["Ann"]} for i in range(3)],
    )
    exs = load_examples(
        {
            "name": "f",
            "family": "infinitebench",
            "tasks": ["longbook_qa_eng"],
            "context_length": 1024,
            "num_samples": 2,
            "data_dir": str(tmp_path),
        },
        tok,
        0,
    )
    assert len(exs) == 2 and exs[0].metric == "qa_f1"
    ids, info = build_prompt_ids(exs[0], tok, "chat", exs[0].meta["max_prompt_tokens"])
    assert len(ids) == 1024 - 40 and info["truncated"] and info["tokens_before"] > 3000
    assert tok.decode(ids).endswith("Answer:")  # the tail (question + prefix) survives


def test_missing_data_stops_unless_allow_missing(tmp_path, tok):
    cfg = {
        "name": "r",
        "family": "ruler",
        "tasks": ["niah_single_1", "qa_1"],
        "context_length": 1024,
        "num_samples": 1,
    }
    with pytest.raises(
        MissingDataError, match=r"^RULER qa_1 needs squad\.json or dev-v2\.0\.json in benchmark\.data_dir"
    ):
        load_examples(cfg, tok, 0)  # defect 10: no silent skip
    skipped: list[SkippedTask] = []
    with pytest.warns(UserWarning, match="skipped ruler/qa_1"):
        exs = load_examples({**cfg, "allow_missing": True}, tok, 0, skipped)
    assert [e.task for e in exs] == ["niah_single_1"] and [(s.benchmark, s.task) for s in skipped] == [
        ("ruler", "qa_1")
    ]
    assert "squad.json" in skipped[0].reason
    ib = {
        "name": "i",
        "family": "infinitebench",
        "tasks": ["passkey", "En.QA"],
        "context_length": 1024,
        "num_samples": 1,
    }
    with pytest.raises(MissingDataError, match="needs real data"):
        load_examples(ib, tok, 0)
    with pytest.warns(UserWarning, match="skipped infinitebench/longbook_qa_eng"):
        assert [e.task for e in load_examples({**ib, "allow_missing": True}, tok, 0, skipped)] == ["passkey"]
    with pytest.raises(BenchmarkError, match="allow_missing must be true or false"):
        load_examples({**ib, "allow_missing": "yes"}, tok, 0)
    paras = [
        {
            "context": f"Paragraph {i} about topic {i}. " * 5,
            "qas": [
                {
                    "question": f"What is topic {i}?",
                    "answers": [{"text": f"topic {i}"}],
                    "is_impossible": False,
                }
            ],
        }
        for i in range(30)
    ]
    (tmp_path / "squad.json").write_text(json.dumps({"data": [{"paragraphs": paras}]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (ex,) = load_examples({**cfg, "tasks": ["qa_1"], "data_dir": str(tmp_path)}, tok, 0)
    assert ex.metric == "string_match_part" and ex.answers[0] in ex.context and "Document 1:" in ex.context
    assert 0.95 * 1024 <= ex.meta["prompt_tokens"] + ex.max_new_tokens <= 1024  # a document is ~45 tokens
    assert ex.meta["source"] == f"file:{tmp_path / 'squad.json'}" and len(ex.meta["file_sha256"]) == 64
    with pytest.raises(BenchmarkError, match="num_samples=31 exceeds the 30 questions"):
        load_examples({**cfg, "tasks": ["qa_1"], "data_dir": str(tmp_path), "num_samples": 31}, tok, 0)


def test_middle_truncation_keeps_head_and_tail():
    ids, info = middle_truncate(list(range(11)), 6)
    assert ids == [0, 1, 2, 8, 9, 10] and info == {
        "limit": 6,
        "tokens_before": 11,
        "tokens_after": 6,
        "truncated": True,
    }
    ids, info = middle_truncate(list(range(11)), 7)
    assert ids == [0, 1, 2, 8, 9, 10] and info["tokens_after"] == 6  # floor(L/2) each side
    assert middle_truncate([1, 2], None)[0] == [1, 2]
    assert middle_truncate([1, 2], 5)[1]["truncated"] is False


def test_profiles(tok):
    ex = Example(
        "1",
        "ruler",
        "niah_single_1",
        "CTX",
        "Q?",
        " The answer is",
        ["x"],
        meta={"template": "Head\n{context}\n{question}"},
    )
    assert build_prompt_text(ex, tok, "official")[0] == "Head\nCTX\nQ? The answer is"
    chat = build_prompt_text(ex, tok, "chat")[0]
    assert chat.endswith("<|im_start|>user\nHead\nCTX\nQ?<|im_end|>\n<|im_start|>assistant\nThe answer is")
    ref = build_prompt_text(ex, tok, "reference")[0]
    assert (
        ref
        == "<|im_start|>system \n You are a helpful assistant.<|im_end|><|im_start|>user \n Head\nCTX\nQ?<|im_end|><|im_start|>assistant \n  The answer is"
    )
    ib = Example(
        "2",
        "infinitebench",
        "passkey",
        "CTX",
        "Q?",
        "The pass key is",
        ["1"],
        meta={"template": "H\n\n{context}\n\n{question}", "prefix_sep": "\n\n"},
    )
    assert (
        "<|im_start|>system\nH\n\nCTX\n\nQ?\n\nThe pass key is<|im_end|>"
        in build_prompt_text(ib, tok, "reference")[0]
    )
    with pytest.raises(BenchmarkError, match="unknown prompt profile"):
        build_prompt_ids(ex, tok, "raw")
    assert Example.from_dict(ex.to_dict()) == ex


def test_rescore_cli(tmp_path, capsys):
    ex = Example("a", "infinitebench", "code_run", "", "", "", [-3], metric="code_run")
    recs = [ex.record("The value is -3."), ex.record("7"), {**ex.record(""), "id": "b"}]
    recs.append(
        Example("c", "ruler", "qa_1", "", "", "", ["Ann", "Anne"], metric="string_match_part").record("anne")
    )
    pred_file = tmp_path / "predictions.jsonl"
    _write(pred_file, recs)
    assert rescore_main([str(pred_file), "--out", str(tmp_path / "scored.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "infinitebench/code_run" in out and "33.33" in out and "nulls=1" in out and "100.00" in out
    scored = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert [r["score"] for r in scored] == [1.0, 0.0, 0.0, 1.0]


def test_benchmark_configs_validate():
    from pathlib import Path

    import yaml

    from eval.suite import validate

    paths = sorted(Path(__file__).resolve().parents[1].joinpath("configs", "benchmark").glob("*.yaml"))
    names = {p.stem for p in paths}
    assert {
        "infinitebench",
        "infinitebench_paper",
        "ruler",
        "niah",
        "infinitebench_embedded",
        "ruler_embedded",
        "niah_embedded",
    } <= names
    for path in paths:
        cfg = yaml.safe_load(path.read_text())
        assert cfg["name"] == path.stem
        validate(cfg)
    paper = yaml.safe_load(Path(paths[0].parent, "infinitebench_paper.yaml").read_text())
    assert (
        len(paper["tasks"]) == 10 and "math_calc" not in paper["tasks"] and "code_run" not in paper["tasks"]
    )
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in paths}
    assert all(c["allow_missing"] is False for c in configs.values())  # missing data stops a run by default
    assert {n for n, c in configs.items() if c["profile"] == "reference"} >= {
        "infinitebench_paper",
        "ruler",
        "niah",
    }
    assert all(
        configs[n]["profile"] == "chat" for n in ("infinitebench_embedded", "ruler_embedded", "niah_embedded")
    )


def test_mixed_suite_and_per_task_overrides(tok):
    cfg = {"name": "m", "family": "mixed", "tasks": ["infinitebench/passkey", "ruler/niah_single_1", "niah/niah_asl"],
           "context_length": 1024, "num_samples": 1, "task_num_samples": {"passkey": 2}, "depths": [50],
           "max_new_tokens": {"niah_single_1": 16}}  # fmt: skip
    exs = load_examples(cfg, tok, 0)
    assert [e.task for e in exs] == ["passkey", "passkey", "niah_single_1", "niah_asl"]
    assert exs[2].max_new_tokens == 16 and exs[2].meta["max_new_tokens_official"] == 128
    with pytest.raises(BenchmarkError, match="family/task"):
        load_examples({**cfg, "tasks": ["passkey"]}, tok, 0)
