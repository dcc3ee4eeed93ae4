"""Random keys and values for RULER: wonderwords word lists read as package data."""

from __future__ import annotations

import random
import string
import uuid
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=4)
def wonderwords_list(name: str) -> tuple[str, ...]:
    """A wonderwords asset list (``nounlist``, ``adjectivelist``, ``verblist``), one word per line."""
    text = resources.files("wonderwords").joinpath("assets", f"{name}.txt").read_text(encoding="utf-8")
    return tuple(w.strip() for w in text.splitlines() if w.strip())


@lru_cache(maxsize=2)
def _sorted(name: str) -> tuple[str, ...]:
    return tuple(sorted(set(wonderwords_list(name))))


def adjective_noun(rng: random.Random) -> str:
    """A uniform "adjective-noun" key (RULER's ``words`` type), without materialising all pairs."""
    return f"{rng.choice(_sorted('adjectivelist'))}-{rng.choice(_sorted('nounlist'))}"


@lru_cache(maxsize=1)
def cwe_words() -> tuple[str, ...]:
    """Nouns + adjectives + verbs, de-duplicated and sorted (shuffle with the seed before use)."""
    return tuple(
        sorted(
            set(
                wonderwords_list("nounlist")
                + wonderwords_list("adjectivelist")
                + wonderwords_list("verblist")
            )
        )
    )


def random_value(kind: str, rng: random.Random) -> str:
    """One key/value of RULER type ``words``, ``numbers`` (7 digits) or ``uuids`` (v4)."""
    if kind == "words":
        return adjective_noun(rng)
    if kind == "numbers":
        return str(rng.randint(10**6, 10**7 - 1))
    if kind == "uuids":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    raise ValueError(f"unknown needle type {kind!r}")


def random_upper(rng: random.Random, k: int) -> str:
    """A k-letter uppercase variable name (vt)."""
    return "".join(rng.choices(string.ascii_uppercase, k=k))
