"""Real data (local official files, the Hub through ``datasets``), subsets, haystacks, run description."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval.datasources import hub_rows, infinitebench_records, qa_source
from eval.errors import BenchmarkError, MissingDataError
from eval.haystack import describe, load_haystack
from eval.infinitebench.loader import load_task
from eval.niah import generate_grid
from eval.subsets import stratified_indices
from eval.suite import describe_run, load_examples

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
IB = FIXTURES / "infinitebench"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from asl.models import get_model_spec
    from asl.models.embedded import ensure_checkpoint

    return AutoTokenizer.from_pretrained(ensure_checkpoint(get_model_spec("smollm2_135m")))


def test_stratified_indices():
    rng = random.Random(0)
    depths = [0.0] * 10 + [50.0] * 10 + [100.0] * 10  # ordered by depth, as the official files are
    picked = stratified_indices(depths, 4, rng)  # one or two per quarter of the sorted records (nested draw)
    assert {depths[i] for i in picked} >= {0.0, 100.0}  # not the first records (all depth 0)
    kinds = ["largest"] * 5 + ["median"] * 5 + ["smallest"] * 5
    assert {kinds[i] for i in stratified_indices(kinds, 3, random.Random(1))} == {
        "largest",
        "median",
        "smallest",
    }
    assert stratified_indices(kinds, 15, rng) == list(range(15))
    draws = {tuple(stratified_indices(depths, 3, random.Random(s))) for s in range(5)}
    assert len(draws) > 1  # seeded, not fixed


def test_subsets_of_official_files_are_stratified_and_recorded():
    # 4 of the fixture's 6 records: the nested draw puts one or two in each quarter of the depth-sorted records,
    # so depths 0 / 50 / 100 are all drawn (3 picks guarantee one per half only)
    exs = load_task("passkey", IB, num_samples=4, seed=0)
    assert len({e.meta["subset"]["stratum"] for e in exs}) == 3  # depths 0 / 50 / 100 of the fixture
    assert {e.id for e in load_task("passkey", IB, num_samples=2, seed=0)} < {e.id for e in exs}  # nested
    assert all(e.meta["subset"] | {"stratum": 0} == {"method": "stratified", "by": "depth", "k": 4,
               "population": 6, "seed": 0, "stratum": 0} for e in exs)  # fmt: skip
    assert [e.id for e in exs] == [e.id for e in load_task("passkey", IB, num_samples=4, seed=0)]
    finds = load_task("math_find", IB, num_samples=2, seed=4)
    assert (
        len({e.meta["subset"]["stratum"] for e in finds}) == 2 and finds[0].meta["subset"]["by"] == "sub-task"
    )
    runs = load_task("code_run", IB, num_samples=2, seed=0)
    assert sorted(e.meta["subset"]["stratum"] for e in runs) == [2, 3]  # call depth read from the code
    assert load_task("passkey", IB)[0].meta["subset"] == {"method": "all", "population": 6}
    with pytest.raises(
        BenchmarkError, match=r"^InfiniteBench passkey: num_samples=7 exceeds the 6 records available$"
    ):
        load_task("passkey", IB, num_samples=7)


class FakeBuilder:
    """Stands in for datasets' builder: rows in memory, data files resolved to a commit like the Hub's."""

    def __init__(self, rows):
        self.rows = rows
        self.config = SimpleNamespace(data_files={"x": [f"hf://datasets/some/repo@{SHA}/file.jsonl"]})

    def download_and_prepare(self):
        pass

    def as_dataset(self, split):
        import datasets

        return datasets.Dataset.from_list(self.rows)


def test_hub_sources_through_datasets(monkeypatch, tok):
    import datasets

    seen = []
    squad_rows = [
        {"id": "1", "title": "T", "context": "Paris is in France.", "question": "Where is Paris?",
         "answers": {"text": ["France"], "answer_start": [12]}},
        {"id": "2", "title": "T", "context": "Paris is in France.", "question": "Who?", "answers": {"text": [], "answer_start": []}},
    ]  # fmt: skip
    hotpot_rows = [
        {
            "question": "Q?",
            "answer": "A",
            "context": {"title": ["t1", "t2"], "sentences": [["a.", " b."], ["c."]]},
        }
    ]
    rows = {"xinrongzhang2022/InfiniteBench": [{"id": 0, "context": "ctx 12345", "input": "What is the pass key?",
                                               "answer": ["12345"], "options": []}],
            "rajpurkar/squad_v2": squad_rows, "hotpotqa/hotpot_qa": hotpot_rows,
            "emozilla/pg19-test": [{"text": "A book. " * 50}]}  # fmt: skip

    def builder(repo, name=None, **kwargs):
        seen.append((repo, name, kwargs.get("revision"), kwargs.get("data_files")))
        return FakeBuilder(rows[repo])

    monkeypatch.setattr(datasets, "load_dataset_builder", builder)
    records, prov = infinitebench_records("passkey", "hf", revision="v1")
    assert prov == {"source": "hf:xinrongzhang2022/InfiniteBench", "revision": SHA, "split": "passkey"}
    assert seen[-1] == ("xinrongzhang2022/InfiniteBench", None, "v1", {"passkey": "passkey.jsonl"})
    (ex,) = load_examples({"name": "h", "family": "infinitebench", "tasks": ["passkey"], "context_length": 4096,
                           "data_dir": "hf", "data_revision": {"xinrongzhang2022/InfiniteBench": "abc"}}, tok, 0)  # fmt: skip
    assert ex.meta["revision"] == SHA and seen[-1][2] == "abc" and ex.answers == ["12345"]
    squad, prov = qa_source("qa_1", "hf")
    assert (
        squad["data"][0]["paragraphs"][0]["qas"][1]["is_impossible"]
        and prov["source"] == "hf:rajpurkar/squad_v2"
    )
    hotpot, _ = qa_source("qa_2", "hf")
    assert hotpot == [{"question": "Q?", "answer": "A", "context": [["t1", ["a.", " b."]], ["t2", ["c."]]]}]
    assert seen[-1][:2] == ("hotpotqa/hotpot_qa", "distractor")
    assert load_haystack("pg19:hf").revision == SHA
    assert describe("pg19:hf", "PG19")["haystack_revision"] == SHA


def test_hub_offline_without_cache_is_missing_data(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset_builder", offline)
    with pytest.raises(
        MissingDataError, match=r"^hub dataset rajpurkar/squad_v2 \(validation\) unavailable: ConnectionError"
    ):
        hub_rows("squad")


def test_pg19_rounds_and_fallback_label(tok):
    spec = f"pg19:{FIXTURES / 'pg19_mini.jsonl'}"
    exs = generate_grid(tok, [600, 700], [50], 2, seed=0, variant="asl", haystack=spec)
    assert all("haystack_fallback_for" not in e.meta and e.meta["haystack"] == spec for e in exs)
    books = load_haystack(spec).documents
    r0, r1 = (e for e in exs if e.meta["length"] == 600)
    assert (
        r0.context[:60] == books[0][:60] and r1.context[:60] != r0.context[:60]
    )  # round 1 reads later books
    with pytest.raises(BenchmarkError, match="3 books hold fewer than 5 rounds of 700 tokens"):
        generate_grid(tok, [600, 700], [50], 5, seed=0, variant="asl", haystack=spec)
    (fallback,) = generate_grid(tok, [600], [50], 1, seed=0)
    assert fallback.meta["haystack"] == "pd_default" and fallback.meta["haystack_fallback_for"] == "PG19"
    with pytest.raises(MissingDataError, match="path not found"):
        load_haystack("pg19:/no/such/file.jsonl")


def test_describe_run_collects_sources_subsets_and_coverage(tok):
    cfg = {"name": "m", "family": "mixed", "tasks": ["infinitebench/passkey", "ruler/qa_1", "ruler/niah_single_2"],
           "context_length": 700, "num_samples": 2, "data_dir": str(IB), "allow_missing": True}  # fmt: skip
    skipped: list = []
    with pytest.warns(UserWarning, match="skipped ruler/qa_1"):
        exs = load_examples(cfg, tok, 0, skipped)
    info = describe_run(cfg, exs, skipped)
    assert info["coverage"]["label"] == "2 of 3 tasks" and info["coverage"]["skipped"][0]["task"] == "qa_1"
    assert info["data"]["infinitebench/passkey"]["source"] == f"file:{IB / 'passkey.jsonl'}"
    assert info["data"]["ruler/niah_single_2"]["haystack_fallback_for"] == "Paul Graham essays"
    sub = info["subsets"]["infinitebench/passkey"]
    assert sub["k"] == 2 and sub["population"] == 6 and len(sub["strata"]) == 2
