"""Pluggable haystack text providers and offline sentence splitting (benchmarks.md §2.6, §4).

Providers: ``pd_default`` (bundled public-domain Areopagitica), ``essay:<path>`` (a .txt file, a folder of
.txt files read in sorted order, or a PaulGrahamEssays.json), ``pg19:<path>`` (JSONL, one ``text`` per line).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from eval.errors import BenchmarkError

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_FILE = DATA_DIR / "areopagitica.txt"
SPLITTER = "nltk.PunktSentenceTokenizer(untrained)"


@dataclass(frozen=True)
class Haystack:
    """Haystack documents plus provenance (provider spec and content hash)."""

    provider: str
    documents: tuple[str, ...]
    sha256: str

    def text(self) -> str:
        """All documents joined by blank lines."""
        return "\n\n".join(self.documents)


def _hash(docs: list[str]) -> str:
    return hashlib.sha256("\n\n".join(docs).encode("utf-8")).hexdigest()


def _read_essays(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise BenchmarkError(f"no .txt essays in {path}")
        return [f.read_text(encoding="utf-8") for f in files]
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else list(data.values())
        return [
            str(x.get("content") or x.get("text") or "") if isinstance(x, dict) else str(x) for x in items
        ]
    return [path.read_text(encoding="utf-8")]


def _read_pg19(path: Path) -> list[str]:
    from eval.infinitebench.loader import read_jsonl

    return [str(rec.get("text", "")) for _, rec in read_jsonl(path)]


@lru_cache(maxsize=8)
def load_haystack(spec: str = "pd_default") -> Haystack:
    """Resolve a provider spec; a missing user path raises BenchmarkError."""
    kind, _, arg = spec.partition(":")
    if kind == "pd_default":
        docs = [DEFAULT_FILE.read_text(encoding="utf-8")]
    elif kind in ("essay", "pg19"):
        path = Path(arg).expanduser()
        if not arg or not path.exists():
            raise BenchmarkError(f"haystack {spec!r}: path not found (give essay:<path> or pg19:<path>)")
        docs = _read_essays(path) if kind == "essay" else _read_pg19(path)
    else:
        raise BenchmarkError(f"unknown haystack {spec!r}; use pd_default, essay:<path> or pg19:<path>")
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise BenchmarkError(f"haystack {spec!r} is empty")
    return Haystack(spec, tuple(docs), _hash(docs))


@lru_cache(maxsize=8)
def haystack_words(spec: str = "pd_default") -> tuple[str, ...]:
    """Whitespace-collapsed words of the whole haystack (RULER's essay unit)."""
    return tuple(re.sub(r"\s+", " ", load_haystack(spec).text()).split(" "))


def words_of(spec: str, n: int) -> list[str]:
    """The first ``n`` haystack words, repeating the text when it is shorter."""
    words = haystack_words(spec)
    reps = n // len(words) + 1
    return (list(words) * reps)[:n]


@lru_cache(maxsize=1)
def _punkt():  # noqa: ANN202 - nltk type
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer()


def split_sentences(text: str) -> list[str]:
    """Offline sentence split with nltk's untrained Punkt model (no download); see SPLITTER."""
    return _punkt().tokenize(text.strip())
