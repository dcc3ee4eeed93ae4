"""Which kvpress presses run through the engine, and why the others do not (docs/kvpress.md).

A press runs here when its method is post-prefill scoring of one layer's KV: the engine calls the press
where the SnapKV family compresses (inside each layer's prefill attention, after full attention), keeps
the press's choice in the pruned cache and decodes with its own loop. kvpress's own forward hooks are
never registered (under transformers 5.24 they fail on the first layer: they expect
``past_key_values`` and ``cache_position`` in the attention call). Every press class kvpress 0.5.5
exports is in exactly one of the two tables below (a test checks it).
"""

from __future__ import annotations

import math
from typing import Any

#: how the harness budget reaches the press
SCORER = "scorer"  # ScorerPress: the press's ``score``, the engine keeps the top-C per KV head
RATIO = "ratio"  # the press's own ``compress`` with the compression ratio that keeps C entries
OWN = "own"  # the press decides how much it keeps (its own kwargs); kv_budget must be null
WRAPPER = "wrapper"  # wraps a scorer press named by ``inner`` (built with its defaults)

SUPPORTED: dict[str, str] = {
    "SnapKVPress": SCORER,
    "StreamingLLMPress": SCORER,
    "ExpectedAttentionPress": SCORER,
    "KnormPress": SCORER,
    "TOVAPress": SCORER,
    "ObservedAttentionPress": SCORER,  # its eager attention matrix is computed by the session
    "KeyDiffPress": SCORER,
    "RandomPress": SCORER,
    "LagKVPress": SCORER,
    "LeverageScorePress": SCORER,
    "CURPress": SCORER,
    "CompactorPress": SCORER,
    "NonCausalAttnPress": SCORER,
    "CapPress": SCORER,
    "PyramidKVPress": RATIO,
    "ThinKPress": OWN,
    "SimLayerKVPress": OWN,
    "CriticalKVPress": WRAPPER,
    "ChunkPress": WRAPPER,
    "ChunkKVPress": WRAPPER,
    "EntropyGatedChunkKVPress": WRAPPER,
    "BlockPress": WRAPPER,
    "MergingPress": WRAPPER,
}

_HEADWISE = "per-head variable cache lengths (kvpress masks evicted keys with a fake key); the engine's cache keeps the same count per KV head"
_HUB = "needs a model hub download"
_DECODING = "decoding-time compression through kvpress's own decode hooks; write it on the engine's per-step hook (docs/adding-a-method.md)"

UNSUPPORTED: dict[str, str] = {
    "AdaKVPress": _HEADWISE,
    "CriticalAdaKVPress": _HEADWISE,
    "DMSPress": _HEADWISE,
    "LUKVPress": _HEADWISE,
    "KVComposePress": f"compresses after the whole prefill across layers through its own hook; {_HEADWISE}",
    "DuoAttentionPress": f"{_HUB} (its head patterns or a calibration data set); {_HEADWISE}",
    "QFilterPress": f"{_HUB} (its per-model Q-filters)",
    "KVzapPress": f"{_HUB} (its surrogate model)",
    "ExpectedAttentionStatsPress": f"{_HUB} (query statistics, or a calibration data set)",
    "FastKVzipPress": f"{_HUB} (its gates)",
    "RestoreKVPress": f"{_HUB} (restore embeddings)",
    "KVzipPress": "re-runs the model on a reconstructed context through its own hooks (extra passes, its own tokenizer download)",
    "KVgradPress": "re-runs the model with gradients through its own hooks (extra passes)",
    "DecodingPress": _DECODING,
    "CompressionRatioDecodingPress": _DECODING,
    "CAMPress": _DECODING,
    "PrefillDecodingPress": _DECODING,
    "FinchPress": "needs kvpress's pipeline context/question split (a delimiter token added to the tokenizer)",
    "KeyRerotationPress": "re-rotates the kept keys to positions 0..k-1 while the engine decodes one-pass methods at N + t (methods.md §9, decode positions)",
    "PerLayerCompressionPress": "per-layer ratios replace the harness's budget; PyramidKV (native or PyramidKVPress) is the per-layer schedule here",
    "ComposedPress": "a list of presses is not one method.press; compose presses in Python on the session",
}

#: kvpress's base classes and helpers, not methods
NOT_PRESSES = ("BasePress", "ScorerPress", "KVPressTextGenerationPipeline")


class PressError(ValueError):
    """A one-line error about a press (unsupported, unknown, bad kwarg)."""


def kvpress_module() -> Any:
    """The installed kvpress package (one-line error when it is missing).

    Importing kvpress wraps every function registered in transformers' ``ALL_ATTENTION_FUNCTIONS``
    (its head-wise masking patch, needed only by the head-wise presses this harness does not run); the
    wrapper passes ``dropout`` positionally, which the engine's attention function takes as ``scaling``.
    The registered functions are restored right after the import, so the engine and HF see their own.
    """
    import sys

    if "kvpress" in sys.modules:
        return sys.modules["kvpress"]
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    registered = dict(ALL_ATTENTION_FUNCTIONS.items())
    try:
        import kvpress
    except ImportError as exc:  # pragma: no cover - installed by make setup
        raise PressError(f"kvpress is not installed ({exc}); run `make setup`") from None
    finally:
        for name, function in registered.items():
            ALL_ATTENTION_FUNCTIONS[name] = function
    return kvpress


def press_kind(name: str) -> str:
    """The support kind of press ``name``; a one-line PressError for an unsupported or unknown press."""
    if name in SUPPORTED:
        return SUPPORTED[name]
    if name in UNSUPPORTED:
        raise PressError(f"kvpress press {name} is not supported here: {UNSUPPORTED[name]}")
    raise PressError(f"unknown kvpress press {name!r}; supported: {', '.join(sorted(SUPPORTED))}")


def press_class(name: str) -> type:
    """The kvpress class of a supported press."""
    press_kind(name)
    return getattr(kvpress_module(), name)


def press_fields(name: str) -> dict[str, Any]:
    """The press's constructor keywords and their defaults (dataclass ``init`` fields)."""
    import dataclasses

    cls = press_class(name)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = None
        else:
            out[f.name] = None
    return out


def ratio_for_budget(length: int, budget: int) -> float:
    """The compression ratio with which kvpress keeps exactly ``budget`` of ``length`` entries.

    kvpress keeps ``int(length * (1 - ratio))`` (PyramidKVPress's fallback ``round`` of it); a quarter of
    an entry of slack keeps float rounding from dropping or adding one. Requires ``budget < length``.
    """
    ratio = 1.0 - (budget + 0.25) / length
    kept = length * (1 - ratio)
    assert math.floor(kept) == budget == round(kept), (length, budget, ratio)
    return ratio


def press_label(name: str) -> str:
    """Display label from the press class name: ``ExpectedAttentionPress`` -> ``ExpectedAttention (kvpress)``."""
    base = name[: -len("Press")] if name.endswith("Press") else name
    return f"{base} (kvpress)"


#: colours no native method uses (tests/test_kvpress_presses.py checks it), so a press never looks like one
_PALETTE = ("#117733", "#88CCEE", "#AA4499", "#44AA99", "#882255", "#DDCC77", "#661100", "#6699CC", "#EE3377",
            "#33BBEE", "#EE7733", "#009988")  # fmt: skip


def press_color(name: str) -> str:
    """A colour fixed by the press name (the same press has the same colour in every figure)."""
    names = sorted(SUPPORTED)
    return _PALETTE[names.index(name) % len(_PALETTE)] if name in SUPPORTED else "#777777"


def press_order(name: str) -> int:
    """Row order: after every native method, alphabetical by press name."""
    names = sorted(SUPPORTED)
    return 300 + (names.index(name) if name in SUPPORTED else len(names))
