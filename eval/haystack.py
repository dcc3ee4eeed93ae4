"""Pluggable haystack text providers and offline sentence splitting (benchmarks.md §2.6, §4).

Providers: ``pd_default`` (bundled public-domain Areopagitica, the offline fallback), ``essay:<path>`` (Paul
Graham essays: a .txt file, a folder of .txt files read in sorted order, or RULER's PaulGrahamEssays.json),
``pg19:<path>`` (PG19 books: pg19_mini.jsonl with one ``text`` per line, or a folder of .txt books) and
``pg19:hf`` / ``pg19:hf:<repo>[@<revision>]`` (PG19 from the Hugging Face Hub through ``datasets``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eval.datasources import hub_rows, read_json, read_jsonl
from eval.errors import BenchmarkError, MissingDataError

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_FILE = DATA_DIR / "areopagitica.txt"
SPLITTER = "nltk.PunktSentenceTokenizer(untrained), over the whole (repeated) haystack"
FALLBACK = "pd_default"


@dataclass(frozen=True)
class Haystack:
    """Haystack documents plus provenance (provider spec, content hash, Hub revision if any)."""

    provider: str
    documents: tuple[str, ...]
    sha256: str
    revision: str | None = None

    def text(self) -> str:
        """All documents joined by blank lines."""
        return "\n\n".join(self.documents)


def _hash(docs: list[str]) -> str:
    return hashlib.sha256("\n\n".join(docs).encode("utf-8")).hexdigest()


def _read_essays(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise MissingDataError(f"no .txt essays in {path}")
        return [f.read_text(encoding="utf-8") for f in files]
    if path.suffix == ".json":
        data = read_json(path)
        items = data if isinstance(data, list) else list(data.values())
        return [
            str(x.get("content") or x.get("text") or "") if isinstance(x, dict) else str(x) for x in items
        ]
    return [path.read_text(encoding="utf-8")]


def _read_pg19(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise MissingDataError(f"no .txt books in {path}")
        return [f.read_text(encoding="utf-8") for f in files]
    return [str(rec.get("text", "")) for _, rec in read_jsonl(path)]


def _pg19_hub(arg: str) -> tuple[list[str], str]:
    repo, _, revision = arg.partition("@")
    overrides = {"repo": repo} if repo else {}
    rows, prov = hub_rows("pg19", revision=revision or None, **overrides)
    return [str(r.get("text") or "") for r in rows], prov["revision"]


@lru_cache(maxsize=8)
def load_haystack(spec: str | None = FALLBACK) -> Haystack:
    """Resolve a provider spec; a missing user path or unreachable Hub dataset raises MissingDataError."""
    spec = spec or FALLBACK
    kind, _, arg = spec.partition(":")
    revision = None
    if kind == "pd_default":
        docs = [DEFAULT_FILE.read_text(encoding="utf-8")]
    elif kind == "pg19" and (arg == "hf" or arg.startswith("hf:")):
        docs, revision = _pg19_hub(arg[3:] if arg.startswith("hf:") else "")
    elif kind in ("essay", "pg19"):
        path = Path(arg).expanduser()
        if not arg or not path.exists():
            raise MissingDataError(f"haystack {spec!r}: path not found (give essay:<path> or pg19:<path>)")
        docs = _read_essays(path) if kind == "essay" else _read_pg19(path)
    else:
        raise BenchmarkError(
            f"unknown haystack {spec!r}; use pd_default, essay:<path>, pg19:<path> or pg19:hf"
        )
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise BenchmarkError(f"haystack {spec!r} is empty")
    return Haystack(spec, tuple(docs), _hash(docs), revision)


def describe(spec: str | None, wanted: str) -> dict[str, Any]:
    """Provenance of a haystack for meta: provider, hash, Hub revision, and whether it is the offline fallback.

    ``wanted`` names what the setup calls for (e.g. "PG19", "Paul Graham essays"); the bundled text used in
    its place is labelled ``fallback_for``.
    """
    hay = load_haystack(spec)
    info: dict[str, Any] = {"haystack": hay.provider, "haystack_sha256": hay.sha256}
    if hay.revision:
        info["haystack_revision"] = hay.revision
    if hay.provider == FALLBACK:
        info["haystack_fallback_for"] = wanted
    return info


@lru_cache(maxsize=8)
def haystack_words(spec: str | None = FALLBACK) -> tuple[str, ...]:
    """Whitespace-collapsed words of the whole haystack (RULER's essay unit)."""
    return tuple(w for w in re.sub(r"\s+", " ", load_haystack(spec).text()).split(" ") if w)


def words_of(spec: str | None, n: int) -> list[str]:
    """The first ``n`` haystack words, repeating the text when it is shorter (as RULER main does)."""
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


@lru_cache(maxsize=8)
def _sentence_index(spec: str | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    sents = split_sentences(" ".join(haystack_words(spec)))
    ends, total = [], 0
    for sent in sents:
        total += len(sent.split(" "))
        ends.append(total)
    return tuple(sents), tuple(ends)


def sentences_of(spec: str | None, n: int) -> list[str]:
    """The sentences of the first ``n`` haystack words (the cut sentence kept as the last one).

    The haystack is split once (cached) instead of once per candidate length, and a repeated haystack
    repeats its sentences: Punkt's boundaries inside a prefix are the ones it finds in the whole text, so
    this equals splitting the prefix, up to the cut (and, for repeats, the seam between copies).
    """
    words = haystack_words(spec)
    sents, ends = _sentence_index(spec)
    out: list[str] = []
    done = 0
    while done + ends[-1] <= n:
        out += sents
        done += ends[-1]
    base = done
    for sent, end in zip(sents, ends, strict=True):
        if base + end > n:
            break
        out.append(sent)
        done = base + end
    if done < n:
        out.append(" ".join(words[done - base : n - base]))
    return out
