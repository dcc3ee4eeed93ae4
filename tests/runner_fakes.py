"""Fakes of the engine and benchmark APIs for fast runner tests (no model, no torch work)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from asl.harness.backend import Backend
from eval.schema import Example

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CONFIGS = ROOT / "tests" / "fixtures" / "configs"


def make_cfg(*overrides: str) -> DictConfig:
    """Compose configs/config.yaml with the fake benchmark and W&B disabled unless overridden."""
    base = [f"hydra.searchpath=[file://{FIXTURE_CONFIGS}]", "benchmark=fake", "logger.wandb.mode=disabled"]
    with initialize_config_dir(str(ROOT / "configs"), version_base=None):
        return compose("config", overrides=base + list(overrides))


class FakeBackend:
    """Counts generate calls; ``fail_ids`` raise like a CUDA OOM would."""

    def __init__(self, fail_ids: tuple[str, ...] = (), interrupt_ids: tuple[str, ...] = ()) -> None:
        self.calls: list[str] = []
        self.shared_calls: list[tuple[str, list[str]]] = []
        self.fail_ids = fail_ids
        self.interrupt_ids = interrupt_ids
        self._current = ""

    def load_model(self, spec: Any, device: Any = None, dtype: Any = None) -> tuple[Any, Any]:
        return SimpleNamespace(name=spec.name, device="cpu"), None

    def load_examples(
        self, bench: dict, tokenizer: Any, seed: int, skipped: list | None = None
    ) -> list[Example]:
        out = []
        lengths = (
            bench["context_length"]
            if isinstance(bench["context_length"], list)
            else [bench["context_length"]]
        )
        for task in bench["tasks"]:
            for length in lengths:
                for i in range(bench["num_samples"]):
                    out.append(
                        Example(
                            id=str(i), benchmark=bench["name"], task=task, context="x " * 50, question="q?",
                            answer_prefix="A:", answers=[str(1000 + i)], max_new_tokens=4, metric="string_match_all",
                            meta={"length": length, "seed": seed},
                        )
                    )  # fmt: skip
        return out

    def build_prompt_ids(
        self, example: Example, tokenizer: Any, profile: str, limit: Any
    ) -> tuple[list[int], dict]:
        self._current = example.id
        return list(range(300 + int(example.id))), {"profile": profile}

    def generate(self, model: Any, tok: Any, ids: list[int], method: Any, **kw: Any) -> SimpleNamespace:
        self.calls.append(self._current)
        if self._current in self.fail_ids:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\nmore detail")
        digest = hashlib.sha256(repr((len(ids), method.to_dict())).encode()).hexdigest()
        text = "1000" if self._current == "0" else digest[:6]
        return SimpleNamespace(
            text=text,
            token_ids=[1, 2],
            prompt_tokens=len(ids),
            kv_lengths=[len(ids)] * 4,
            selection_layer=3,
            selection_fired=True,
            rel_variance={3: 0.2},
            ttft_s=0.01,
            tpot_s=0.002,
            peak_memory_bytes=1 << 20,
            peak_memory_kind="cpu_rss_peak_delta",
            kv_cache_bytes=1 << 16,
            method_config={**method.to_dict(), "l_min": 3},
        )

    def generate_many(self, model: Any, tok: Any, ids: list[int], methods: list[Any], **kw: Any) -> list:
        """One shared call: each method's result as alone, without timing when more than one share it."""
        self.shared_calls.append((self._current, [m.name for m in methods]))
        if self._current in self.interrupt_ids:
            raise KeyboardInterrupt
        results = [self.generate(model, tok, ids, m, **kw) for m in methods]
        if len(methods) > 1:
            for res in results:
                res.ttft_s, res.tpot_s, res.shared_prefill = None, None, len(methods)
        return results

    def score(self, example: Example, prediction: str) -> float:
        return float(prediction in example.answers)

    def stop_token_ids(self, model: Any, tok: Any) -> list[int]:
        return []

    def backend(self) -> Backend:
        return Backend(
            self.load_model,
            self.generate,
            self.load_examples,
            self.build_prompt_ids,
            self.score,
            self.stop_token_ids,
            generate_many=self.generate_many,
        )
