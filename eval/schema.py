"""The one example schema shared by InfiniteBench, RULER and NIAH."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Prompt-building parts of meta (the template, one-shot texts, extra chat turns): kept out of prediction records.
PROMPT_ONLY_META = frozenset({"template", "icl", "turns"})


@dataclass
class Example:
    """One benchmark sample.

    The prompt is ``meta["template"]`` with ``{context}`` and ``{question}`` filled in, followed by
    ``meta["prefix_sep"]`` and ``answer_prefix`` (see :mod:`eval.prompts`). Context and question stay
    separate so that context-only compression remains possible.
    """

    id: str
    benchmark: str
    task: str
    context: str
    question: str
    answer_prefix: str
    answers: list[Any]
    options: list[str] = field(default_factory=list)
    max_new_tokens: int = 32
    metric: str = "string_match_all"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict (all fields)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Example:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["id"] = str(kwargs.get("id", ""))
        kwargs.setdefault("benchmark", "")
        kwargs.setdefault("context", "")
        kwargs.setdefault("question", "")
        kwargs.setdefault("answer_prefix", "")
        kwargs["answers"] = list(kwargs.get("answers") or [])
        kwargs["options"] = list(kwargs.get("options") or [])
        kwargs["meta"] = dict(kwargs.get("meta") or {})
        return cls(**kwargs)

    def task_text(self) -> str:
        """The task prompt without the answer prefix (template filled with context and question)."""
        template = self.meta.get("template", "{context}\n\n{question}")
        # str.replace, not format: contexts contain braces (JSON, code).
        head, _, tail = template.partition("{context}")
        return head + self.context + tail.replace("{question}", self.question)

    def record(self, prediction: str, **extra: Any) -> dict[str, Any]:
        """A predictions.jsonl record that :mod:`eval.rescore` can score without the model."""
        rec = {
            "id": self.id,
            "benchmark": self.benchmark,
            "task": self.task,
            "prediction": prediction,
            "answers": self.answers,
            "options": self.options,
            "metric": self.metric,
            "meta": {k: v for k, v in self.meta.items() if k not in PROMPT_ONLY_META},
        }
        rec.update(extra)
        return rec
