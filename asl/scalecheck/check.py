"""The paper-scale check: every method on the paper models' shapes at 128K-1M tokens, on fake tensors.

Each request runs the real engine (``generate``: chunked prefill, then static decode steps) on a fake
model; the probe measures per-phase peaks, the largest tensor, aten ops per decode step and layer, and
rejects N², N x vocab and (bf16) full-length fp32 tensors. Each measured peak is set beside the memory
model's prediction (``asl.cost_model.prefill_working_bytes``). Data-dependent choices are forced: ASL's
layer at L_min, the middle and the last layer; host reads of token ids and statistics read 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch

from asl.config_groups import compose_node
from asl.cost_model import ArchSpec, decode_scratch_bytes, kv_entry_bytes, prefill_working_bytes
from asl.engine.chunked_layer import DEFAULT_PREFILL_CHUNK
from asl.engine.static_decode import DECODE_BLOCK
from asl.methods.registry import method_from_config
from asl.scalecheck.fake_model import build_fake_model, fake_mode
from asl.scalecheck.goals import GiB, goal_failures  # noqa: F401 (re-exported)
from asl.scalecheck.probe import MemoryProbe
from asl.scalecheck.run import Measured, measure_request

MODELS = ("llama31_8b_ul", "qwen25_7b")
LENGTHS = (131072, 262144, 524288, 1048576)
DECODE_STEPS = 3
TOLERANCE = 0.05  # measured peak within 5% of the prediction


@dataclass(frozen=True)
class Variant:
    """One row family: a method configuration (``forced`` names a forced selection layer)."""

    method: str
    forced: str = ""  # "", "l_min", "middle", "last"

    @property
    def label(self) -> str:
        return f"{self.method}@{self.forced}" if self.forced else self.method


def variants() -> list[Variant]:
    """The methods-under-test table, ASL's data-dependent layer forced at L_min / middle / last."""
    fixed = ["fullkv", "snapkv", "pyramidkv", "streamingllm", "fastkv", "fastkv_fullbefore", "gemfilter"]
    adaptive = ["asl", "asl_fullbefore", "asl_2pass"]
    return [Variant(m) for m in fixed] + [
        Variant(m, f) for m in adaptive for f in ("l_min", "middle", "last")
    ]


def build(variant: Variant, model) -> object:
    """The resolved method of ``variant`` on ``model`` (its layer preset; a forced layer when named)."""
    spec, layers = model.asl_spec, model.config.num_hidden_layers
    method = method_from_config(compose_node("method", variant.method))
    method = method.resolved(spec.layer_defaults(), layers)
    if variant.forced:
        layer = {"l_min": method.l_min, "middle": layers // 2, "last": layers - 1}[variant.forced]
        method = type(method)(**{**method.to_dict(), "force_layer": layer})
    return method


@dataclass
class Row:
    """One line of results/scale_check/scale_check.csv."""

    model: str
    method: str
    context_length: int
    phase: str
    peak_bytes: int
    predicted_bytes: int
    weights_bytes: int
    kv_bytes: int
    largest_tensor_bytes: int
    decode_ops_per_layer: float
    chunk: int
    selection_layer: int | None
    ratio: float
    status: str  # "ok" or what failed
    seconds: float = 0.0  # wall time of the request on fake tensors (not compared: machine-dependent)


def _buffer(length: int) -> int:
    """A layer's static decode buffer: its kept entries + the generated tokens, rounded up to a block."""
    return -(-(length + DECODE_STEPS + 1) // DECODE_BLOCK) * DECODE_BLOCK


def predict(arch: ArchSpec, method, n: int, measured: Measured, weights: int, b: int, chunk: int) -> dict:
    """Predicted per-phase peaks: weights + the cache buffers + the working set of the phase."""
    window = getattr(method, "window", 0) if getattr(method, "kv_budget", None) else 0
    kv_entries = sum(measured.kv_lengths)
    # the static decode's buffers: kept entries + the generated tokens, rounded up to DECODE_BLOCK
    buffers = sum(_buffer(length) for length in measured.kv_lengths)
    entry = kv_entry_bytes(arch, b)
    prefill = weights + buffers * entry + prefill_working_bytes(arch, n, b, chunk, window)
    # the lean decode step's scratch, one set per request over the longest layer's buffer, shared by the
    # layers (asl/engine/lean_step.py: fp32 scores/probabilities, bf16 blocked probabilities, partial sums)
    longest = max(_buffer(length) for length in measured.kv_lengths)
    step_buffers = decode_scratch_bytes(arch, longest, b, DECODE_BLOCK)
    decode = weights + buffers * entry + step_buffers + 2 * 4 * arch.vocab
    return {"prefill": prefill, "decode": decode, "kv": kv_entries * entry}


def check_model(
    name: str, lengths: Iterable[int], chosen: Iterable[Variant], chunk: int = DEFAULT_PREFILL_CHUNK
) -> list[Row]:
    """Every variant at every length on the fake ``name``; one row per phase."""
    rows: list[Row] = []
    probe = MemoryProbe()
    with fake_mode(), probe:
        model = build_fake_model(name)
        arch = ArchSpec.from_config(model.config)
        b = torch.finfo(model.dtype).bits // 8
        # one warm-up request, as every run does: the lean decode step fuses q/k/v and gate/up into one
        # tensor per layer and points the projections' weights at views of it (``.data``, which the probe
        # cannot follow); the weights are then counted once, from the parameters' storages
        measure_request(model, probe, build(Variant("fullkv"), model), 2 * chunk, 1, chunk)
        probe.reset([*model.parameters(), *model.buffers()])
        weights = probe.live
        for n in lengths:
            for variant in chosen:
                method = build(variant, model)
                start = time.perf_counter()
                measured = measure_request(model, probe, method, n, DECODE_STEPS, chunk)
                seconds = time.perf_counter() - start
                rows += make_rows(name, variant, n, method, measured, arch, weights, b, chunk, seconds)
    return rows


def make_rows(
    name, variant, n, method, measured: Measured, arch, weights, b, chunk, seconds=0.0
) -> list[Row]:
    """Rows of one request, each with its status (prediction, shapes, dtypes, leaks)."""
    predicted = predict(arch, method, n, measured, weights, b, chunk)
    decode_ops = measured.phases["decode"]["ops"] / (DECODE_STEPS * arch.num_layers)
    out = []
    for phase in ("prefill", "decode"):
        stats = measured.phases[phase]
        ratio = stats["peak"] / predicted[phase]
        problems = [f.reason for f in measured.findings if f.phase == phase][:1]
        if abs(ratio - 1) > TOLERANCE:
            problems.append(f"peak {ratio:.3f} x prediction")
        if measured.leaked_bytes:
            problems.append(f"{measured.leaked_bytes} bytes still live after the request")
        out.append(
            Row(
                name,
                variant.label,
                n,
                phase,
                stats["peak"],
                predicted[phase],
                weights,
                predicted["kv"],
                stats["largest"],
                round(decode_ops, 2),
                chunk,
                measured.selection_layer,
                round(ratio, 4),
                "; ".join(problems) or "ok",
                round(seconds, 1),
            )
        )
    return out


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]
