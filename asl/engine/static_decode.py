"""The fixed-shape decode step: every tensor it touches keeps its shape and address from step to step.

The step reads the next token, its RoPE position and every layer's cache length from device tensors,
writes the new key/value at that length (``index_copy_``), attends over the layer's whole pre-sized
buffer with a length mask, takes the greedy argmax on the device and advances token, position and
lengths in place. Nothing in it depends on a host value, so on CUDA it is captured once per request as a
CUDA graph and replayed for every further token; on CPU (or ``capture=False``) the same step runs eagerly.

Attention over the buffer (:func:`masked_decode_attention`) is two grouped matrix products (no key or
value is repeated to the query heads): scores of the G query heads of each KV head against all its keys
(fp32 accumulation and output), a masked fp32 softmax, then the probabilities times the values, split
into blocks of ``DECODE_BLOCK`` entries whose partial sums are added in fp32 (a split-K reduction that
keeps a long buffer spread over the whole GPU). Each byte of the cache is read once per step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import torch
from transformers import PreTrainedModel

from asl.engine.cache import PrunedKVCache
from asl.engine.graphs import CaptureMemo, describe, is_structural, warm_up
from asl.engine.layer_loop import decoder_parts, host_longs, last_logits, run_layer

log = logging.getLogger("asl.engine")

#: entries per block of the split-K reduction; the static decode pads every buffer to a multiple of it
DECODE_BLOCK = 256
# bf16/fp16 matrix products with fp32 outputs (CUDA, torch >= 2.8); elsewhere inputs are fp32 already
_BMM_FP32_OUT = hasattr(torch.ops.aten.bmm, "dtype")


def _bmm_fp32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b (batched) accumulated and returned in fp32."""
    if a.dtype == torch.float32:
        return torch.bmm(a, b)
    if _BMM_FP32_OUT and a.is_cuda:
        return torch.bmm(a, b, out_dtype=torch.float32)
    return torch.bmm(a.float(), b.float())


def masked_decode_attention(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, unused: torch.Tensor, scaling: float
) -> torch.Tensor:
    """One query token against a whole buffer: [1, Hq, 1, d] x [1, Hkv, L, d] -> [1, 1, Hq, dv].

    ``unused`` is a [L] bool mask of the entries *not* to attend to (past the layer's length); L must be a
    multiple of ``DECODE_BLOCK``.
    """
    _, num_q, _, dim = query.shape
    _, num_kv, length, dim_v = values.shape
    group, blocks = num_q // num_kv, length // DECODE_BLOCK
    q = query.reshape(num_kv, group, dim)
    scores = _bmm_fp32(q, keys[0].transpose(1, 2)) * scaling  # [Hkv, G, L]
    probs = torch.softmax(scores.masked_fill_(unused, float("-inf")), dim=-1).to(values.dtype)
    probs = probs.view(num_kv, group, blocks, DECODE_BLOCK).transpose(1, 2)  # [Hkv, S, G, B]
    probs = probs.reshape(num_kv * blocks, group, DECODE_BLOCK)
    partial = _bmm_fp32(probs, values[0].reshape(num_kv * blocks, DECODE_BLOCK, dim_v))  # [Hkv*S, G, dv]
    out = partial.view(num_kv, blocks, group, dim_v).sum(dim=1)  # [Hkv, G, dv]
    return out.to(values.dtype).reshape(1, 1, num_q, dim_v)


class StaticDecodeRequest:
    """Per-request attention state of the HF-layer step: the buffers, device-side lengths and slot ids."""

    def __init__(self, cache: PrunedKVCache, lengths: torch.Tensor):
        self.cache, self.lengths = cache, lengths
        longest = max(k.shape[2] for k in cache.keys if k is not None)
        self.slots = torch.arange(longest, device=lengths.device)

    def attend(self, module, query, key, value, scaling):
        layer = module.layer_idx
        k_buf, v_buf = self.cache.keys[layer], self.cache.values[layer]
        if k_buf is None:
            raise RuntimeError(f"layer {layer} has no prompt KV: prefill did not cache this layer")
        length = self.lengths[layer]
        index = length.view(1)
        k_buf.index_copy_(2, index, key)
        v_buf.index_copy_(2, index, value)
        unused = self.slots[: k_buf.shape[2]] > length
        return masked_decode_attention(query, k_buf, v_buf, unused, scaling)


@dataclass
class StepState:
    """The device-side inputs of a step: next token [1, 1], its RoPE position [1, 1], per-layer lengths [L]."""

    token: torch.Tensor
    position: torch.Tensor
    lengths: torch.Tensor

    @classmethod
    def create(cls, cache: PrunedKVCache, token: int, position: int, device: torch.device) -> StepState:
        return cls(
            host_longs([[token]], device),
            host_longs([[position]], device),
            host_longs(cache.lengths, device),
        )


class DecodeStep(Protocol):
    """One fixed-shape decode step in three parts (the op counter measures them apart)."""

    kind: str
    num_layers: int

    def begin(self) -> None: ...  # embedding, RoPE, masks
    def layer(self, index: int) -> None: ...
    def end(self) -> None: ...  # final norm, LM head, argmax into the token; advance position and lengths


class LayerStep:
    """The step through HF's decoder layers (any architecture the engine runs)."""

    kind = "layers"

    def __init__(self, model: PreTrainedModel, cache: PrunedKVCache, state: StepState):
        self.model, self.state = model, state
        self.embed, self.rotary, self.layers, _, _ = decoder_parts(model)
        self.num_layers = len(self.layers)
        self.request = StaticDecodeRequest(cache, state.lengths)
        self.hidden: torch.Tensor | None = None
        self.position_embeddings = None

    def begin(self) -> None:
        self.hidden = self.embed(self.state.token)
        self.position_embeddings = self.rotary(self.hidden, self.state.position)

    def layer(self, index: int) -> None:
        self.hidden = run_layer(
            self.layers[index], self.hidden, self.state.position, self.position_embeddings, self.request
        )

    def end(self) -> None:
        self.state.token.copy_(torch.argmax(last_logits(self.model, self.hidden)).view(1, 1))
        self.state.position.add_(1)
        self.state.lengths.add_(1)


def build_step(
    model: PreTrainedModel, cache: PrunedKVCache, state: StepState, lean: bool = True
) -> DecodeStep:
    """The lean step where the architecture allows it (``lean``), else the HF-layer step."""
    from asl.engine.lean_step import LeanStep, lean_unsupported

    if lean and lean_unsupported(model, cache) is None:
        return LeanStep(model, cache, state)
    return LayerStep(model, cache, state)


def run_step(step: DecodeStep) -> None:
    """One whole step: begin, every layer, end."""
    step.begin()
    for index in range(step.num_layers):
        step.layer(index)
    step.end()


class StaticDecoder:
    """Greedy decoding with the fixed-shape step: a CUDA graph when ``capture``, else the eager step.

    Step 1 runs eagerly (the capture's warm-up), step 2 captures and replays; both are setup
    (``setting_up`` is True before them) and never count as TPOT, also when the capture fails. A
    structural failure goes into ``memo`` so that later requests of the same model do not retry it.
    ``graph_status`` records what happened (captured, the failure, not retried, or why not attempted).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        cache: PrunedKVCache,
        token: int,
        position: int,
        capture: bool,
        memo: CaptureMemo | None = None,
        lean: bool = True,
    ):
        self.cache, self.memo = cache, memo
        self.device = model.get_input_embeddings().weight.device
        self.state = StepState.create(cache, token, position, self.device)
        self.impl = build_step(model, cache, self.state, lean)
        self.capture = capture
        self.replay = None
        self.steps = 0
        self.graph_status = f"{self.impl.kind} step, not captured ({self.device.type})"
        earlier = memo.failed(self.impl.kind) if memo is not None and capture else None
        if earlier:
            self.capture = False
            self.graph_status = f"not retried: capture failed earlier for this model ({earlier})"

    @property
    def graph(self):
        """The replay function of the captured graph (None when the step runs eagerly)."""
        return self.replay

    @property
    def setting_up(self) -> bool:
        """True while the next step is the capture's warm-up or the capture attempt itself."""
        return self.capture and self.replay is None and self.steps < 2

    def _step(self) -> None:
        run_step(self.impl)

    def _capture(self) -> None:
        from asl.engine import graphs

        try:
            self.replay = graphs.capture_graph(self._step, self.device)
        except Exception as exc:  # noqa: BLE001 - any capture failure falls back to the eager step
            reason = describe(exc)
            log.warning("CUDA graph capture failed (%s); the static step runs eagerly", reason)
            self.capture, self.replay = False, None
            self.graph_status = f"capture failed: {reason}"
            if self.memo is not None and is_structural(exc):
                self.memo.record(self.impl.kind, reason)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            return
        self.graph_status = f"captured ({self.impl.kind} step)"

    def step(self) -> int:
        """One decode step; returns the new token (the host waits for it)."""
        if self.replay is not None:
            self.replay()
        elif self.capture and self.steps == 0:
            warm_up(self._step, self.device)
        elif self.capture and self.steps == 1:
            self._capture()
            if self.replay is not None:
                self.replay()
            else:
                self._step()
        else:
            self._step()
        self.steps += 1
        return int(self.state.token.item())

    def finish(self) -> None:
        """Bring the cache's host-side lengths up to date and release the graph."""
        for layer, length in enumerate(self.state.lengths.tolist()):
            self.cache.lengths[layer] = length
        self.replay = None
