"""The harness as an lm-evaluation-harness model (asl/lmeval.py), offline on a locally defined task."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.embedded

TASK_DIR = Path(__file__).resolve().parent.parent / "eval" / "lm_eval_tasks" / "asl_capitals"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    """The local task with its data file path made absolute (tests run from any directory)."""
    out = tmp_path_factory.mktemp("lm_eval_tasks")
    text = (TASK_DIR / "asl_capitals.yaml").read_text()
    text = text.replace("eval/lm_eval_tasks/asl_capitals/capitals.jsonl", str(TASK_DIR / "capitals.jsonl"))
    (out / "asl_capitals.yaml").write_text(text)
    return out


def _generations(model: str, model_args: str, task_dir: Path) -> list[str]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    import asl.lmeval  # noqa: F401  (registers asl-bench)

    out = lm_eval.simple_evaluate(
        model=model,
        model_args=model_args,
        tasks=["asl_capitals"],
        task_manager=TaskManager(include_path=str(task_dir)),
        limit=4,
        log_samples=True,
        device="cpu",
        batch_size=1,
    )
    return [
        sample["resps"][0][0] for sample in sorted(out["samples"]["asl_capitals"], key=lambda s: s["doc_id"])
    ]


def test_fullkv_generations_equal_lm_eval_hf_model(task_dir, embedded):
    """With FullKV the engine gives exactly the generations of lm-eval's own Hugging Face model."""
    from asl.models import get_model_spec
    from asl.models.embedded import checkpoint_dir

    local = checkpoint_dir(get_model_spec("smollm2_135m"))
    ours = _generations("asl-bench", "model=smollm2_135m,method=fullkv", task_dir)
    theirs = _generations("hf", f"pretrained={local},dtype=float32", task_dir)
    assert ours == theirs
    assert any(text.strip() for text in ours)


def test_pruning_method_runs_and_loglikelihood_is_a_one_line_error(task_dir, embedded):
    from asl.lmeval import ASLBenchLM

    gens = _generations("asl-bench", "model=smollm2_135m,method=snapkv,kv_budget=16,window=4", task_dir)
    assert len(gens) == 4
    lm = ASLBenchLM.__new__(ASLBenchLM)
    with pytest.raises(NotImplementedError, match="last position"):
        lm.loglikelihood([])


def test_bad_method_key_is_a_one_line_error(embedded):
    from asl.lmeval import ASLBenchLM

    with pytest.raises(ValueError, match="asl-bench: .*tua") as info:
        ASLBenchLM(model="smollm2_135m", method="asl", tua="0.3")
    assert "\n" not in str(info.value)
