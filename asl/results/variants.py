"""How runs of one method differ: hyper-parameter labels and holding a sweep at its most common setting.

Both work on (display label, hyper-parameters) pairs, so they serve run summaries, table rows and
efficiency.csv rows alike; nothing here knows a method by name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: the paper's notation for a few hyper-parameters; any other key is shown by its name
PARAM_SYMBOLS = {"kv_budget": "C", "tau": "τ", "select_k": "k"}


def method_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """The hyper-parameters of a recorded method config (everything but ``_target_``)."""
    return {k: v for k, v in config.items() if k != "_target_"}


def param_text(key: str, value: Any) -> str:
    """``C=256``, ``τ=0.5``, ``window=32``."""
    return f"{PARAM_SYMBOLS.get(key, key)}={value}"


def value_key(value: Any) -> tuple:
    """Sort key that orders numbers numerically and puts everything else after them, as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, json.dumps(value, sort_keys=True, default=str))


def params_key(params: Mapping[str, Any]) -> tuple:
    """Sort key of a whole parameter set (by key, values ordered as :func:`value_key`)."""
    return tuple((k, value_key(params[k])) for k in sorted(params))


def _hashable(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def varying_keys(configs: Iterable[tuple[Hashable, Mapping[str, Any]]]) -> dict[Hashable, list[str]]:
    """Label -> the keys whose values differ among the configs with that label (a missing key differs)."""
    seen: dict[Hashable, list[Mapping[str, Any]]] = {}
    for label, params in configs:
        seen.setdefault(label, []).append(params)
    out: dict[Hashable, list[str]] = {}
    for label, group in seen.items():
        keys = sorted({k for p in group for k in p})
        out[label] = [k for k in keys if len({_hashable(p.get(k, "\0missing")) for p in group}) > 1]
    return out


def variant_label(label: str, params: Mapping[str, Any], keys: Sequence[str]) -> str:
    """``label`` with the given varying ``keys`` appended: ``ASL C=256 τ=0.5``."""
    return " ".join([label, *(param_text(k, params.get(k)) for k in keys)])


def hold_most_common(
    items: Sequence[T],
    group_of: Callable[[T], Hashable],
    params_of: Callable[[T], Mapping[str, Any]],
    free: Collection[str] = (),
) -> tuple[list[T], dict[str, list[Any]]]:
    """Keep, per group (a method label, or a benchmark and a label), the items at the most common value of
    every hyper-parameter that varies within a group (except the ``free`` ones, e.g. the swept key);
    returns the kept items and the held values (key -> the values kept).

    The most common value is counted over all items that have the key (ties: the smaller value first), so
    one setting holds across groups; a group without an item at that value keeps its own most common one.
    """
    labels = [group_of(i) for i in items]
    params = [params_of(i) for i in items]
    varying = varying_keys(zip(labels, params, strict=True))
    held_keys = sorted({k for keys in varying.values() for k in keys} - set(free))
    ranking: dict[str, list[str]] = {}
    for key in held_keys:
        counts = Counter(_hashable(p[key]) for p in params if key in p)
        ranking[key] = sorted(counts, key=lambda v: (-counts[v], value_key(json.loads(v))))
    groups: dict[Hashable, list[int]] = {}
    for n, label in enumerate(labels):
        groups.setdefault(label, []).append(n)
    kept: list[int] = []
    held: dict[str, list[Any]] = {}
    for group in groups.values():
        for key in held_keys:
            present = {_hashable(params[n][key]) for n in group if key in params[n]}
            if not present:
                continue
            value = next(v for v in ranking[key] if v in present)
            if json.loads(value) not in held.setdefault(key, []):
                held[key].append(json.loads(value))
            group = [n for n in group if key not in params[n] or _hashable(params[n][key]) == value]
        kept += group
    return [items[n] for n in sorted(kept)], held


def setting_values(
    configs: Iterable[Mapping[str, Any]], held: Collection[str], exclude: Collection[str] = ()
) -> dict[str, list[Any]]:
    """What a figure is drawn at: the values its ``configs`` take for each ``held`` key, and each notational
    hyper-parameter (``C``, ``τ``, ``k``) that they all share (except ``exclude``, e.g. the swept key)."""
    configs = list(configs)
    out: dict[str, list[Any]] = {}
    for key in sorted(set(held) | set(PARAM_SYMBOLS)):
        values = {_hashable(c[key]) for c in configs if c.get(key) is not None}
        if key not in exclude and values and (key in held or len(values) == 1):
            out[key] = [json.loads(v) for v in values]
    return out


def held_text(held: Mapping[str, list[Any]]) -> str:
    """``C = 256, τ = 0.3`` for a figure title (a key held at different values per method: ``τ = 0.3/0.5``)."""
    parts = []
    for key in sorted(held):
        values = "/".join(str(v) for v in sorted(held[key], key=value_key))
        parts.append(f"{PARAM_SYMBOLS.get(key, key)} = {values}")
    return ", ".join(parts)
