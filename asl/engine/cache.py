"""GQA-native pruned KV cache: one [1, H_kv, L_i, d] entry per layer, L_i = what that layer's method keeps."""

from __future__ import annotations

import torch


class PrunedKVCache:
    """Per-layer key/value buffers sized at prefill time (kept entries + room for decoding).

    Entries are stored post-RoPE at the KV heads, never repeated to the query heads. Decode steps write
    into the reserved room in place, so a step costs no copy of the cache. ``align`` > 1 rounds each
    buffer up to a multiple of ``align`` entries (the static decode step views a buffer as equal blocks);
    the entries past a layer's length are never read unmasked.
    """

    def __init__(self, num_layers: int, decode_room: int, align: int = 1):
        self.decode_room, self.align = decode_room, align
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers
        self.lengths = [0] * num_layers
        self.prompt_lengths = [0] * num_layers

    def store(self, layer: int, key: torch.Tensor, value: torch.Tensor, shared: dict | None = None) -> None:
        """Store the prompt entries of ``layer`` (prefill).

        ``shared`` (one dict per shared prefill): when another cache of the request already stored these
        very ``key``/``value`` tensors for this layer with the same room (several methods keeping a trunk
        layer whole: Full KV and the Full-before variants), its buffers are reused instead of copied. That
        is safe because the methods decode one after another and each writes a room position before it
        reads it (the static step reads the rest under a mask, and the room never holds NaN).
        """
        batch, heads, length, dim = key.shape
        room = -(-(length + self.decode_room) // self.align) * self.align
        ident = (layer, id(key), id(value), room)
        if shared is not None and ident in shared:
            self.keys[layer], self.values[layer] = shared[ident]
        else:
            self.keys[layer] = k_buf = key.new_empty(batch, heads, room, dim)
            self.values[layer] = v_buf = value.new_empty(batch, heads, room, value.shape[-1])
            k_buf[:, :, :length] = key
            v_buf[:, :, :length] = value
            k_buf[:, :, length:] = 0  # the room is read under a mask by the static step: no NaN garbage
            v_buf[:, :, length:] = 0
            if shared is not None:
                shared[ident] = (k_buf, v_buf)
        self.lengths[layer] = self.prompt_lengths[layer] = length

    def append(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append one decode step's entries; return the layer's full keys and values (views)."""
        start, added = self.lengths[layer], key.shape[2]
        k_buf, v_buf = self.keys[layer], self.values[layer]
        if k_buf is None:
            raise RuntimeError(f"layer {layer} has no prompt KV: prefill did not cache this layer")
        if start + added > self.prompt_lengths[layer] + self.decode_room:
            raise RuntimeError(f"layer {layer}: decode room of {self.decode_room} tokens exhausted")
        k_buf[:, :, start : start + added] = key
        v_buf[:, :, start : start + added] = value
        self.lengths[layer] = end = start + added
        return k_buf[:, :, :end], v_buf[:, :, :end]

    def prompt_bytes(self) -> int:
        """Bytes of the prompt KV entries kept after prefill (keys + values, all layers)."""
        total = 0
        for k_buf, v_buf, length in zip(self.keys, self.values, self.prompt_lengths, strict=True):
            if k_buf is not None:
                per_token = k_buf.shape[1] * (k_buf.shape[3] + v_buf.shape[3]) * k_buf.element_size()
                total += per_token * length
        return total
