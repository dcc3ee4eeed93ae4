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
import time

import torch
from transformers import PreTrainedModel

from asl.engine.cache import PrunedKVCache
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
    """Per-request attention state of the static step: the buffers, device-side lengths and slot ids."""

    def __init__(self, cache: PrunedKVCache, device: torch.device):
        self.cache = cache
        self.lengths = host_longs(cache.lengths, device)
        longest = max(k.shape[2] for k in cache.keys if k is not None)
        self.slots = torch.arange(longest, device=device)

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


class StaticDecoder:
    """Greedy decoding with the fixed-shape step (a CUDA graph when ``capture``)."""

    def __init__(
        self, model: PreTrainedModel, cache: PrunedKVCache, token: int, position: int, capture: bool
    ):
        self.model, self.cache = model, cache
        self.device = model.get_input_embeddings().weight.device
        self.token = host_longs([[token]], self.device)
        self.position = host_longs([[position]], self.device)
        self.request = StaticDecodeRequest(cache, self.device)
        self.capture = capture and self.device.type == "cuda"
        self.graph: torch.cuda.CUDAGraph | None = None
        self.setup_s = 0.0  # capture time (the first step runs eagerly before it)
        self.steps = 0

    def _step(self) -> None:
        embed, rotary, layers, _, _ = decoder_parts(self.model)
        hidden = embed(self.token)
        position_embeddings = rotary(hidden, self.position)
        for layer in layers:
            hidden = run_layer(layer, hidden, self.position, position_embeddings, self.request)
        self.token.copy_(torch.argmax(last_logits(self.model, hidden)).view(1, 1))
        self.position.add_(1)
        self.request.lengths.add_(1)

    def _capture(self) -> None:
        start = time.perf_counter()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._step()
        except RuntimeError as exc:  # an op that cannot be captured: keep stepping eagerly
            log.warning("CUDA graph capture failed (%s); the static step runs eagerly", exc)
            self.capture = False
            return
        self.graph = graph
        self.setup_s = time.perf_counter() - start

    def step(self) -> int:
        """One decode step; returns the new token (the host waits for it)."""
        if self.graph is not None:
            self.graph.replay()
        elif self.capture and self.steps > 0:
            self._capture()
            if self.graph is not None:
                self.graph.replay()
            else:
                self._step()
        elif self.capture:  # the first step runs eagerly on a side stream (CUDA graph warm-up)
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self._step()
            torch.cuda.current_stream(self.device).wait_stream(side)
        else:
            self._step()
        self.steps += 1
        return int(self.token.item())

    def finish(self) -> None:
        """Bring the cache's host-side lengths up to date and release the graph."""
        for layer, length in enumerate(self.request.lengths.tolist()):
            self.cache.lengths[layer] = length
        self.graph = None
