"""Token-chunked MLP for long prefills (methods.md §1 and §9: allowed, must not change outputs).

A decoder layer's MLP works on each token independently, so running it on chunks of ``chunk`` tokens and
writing each chunk's output into one preallocated tensor gives the same values while the MLP's
intermediate activations (tokens x intermediate size, several of them) stay bounded by the chunk. Every
call sees exactly ``chunk`` tokens (the last chunk overlaps its predecessor), which keeps the matrix
kernels' blocking, and so the fp32 results, bit-identical to the unchunked MLP on the tested backends.

For the duration of one request, :func:`chunked_mlp` puts a :class:`TokenChunked` wrapper in place of each
decoder layer's ``mlp`` and restores the original modules afterwards (also on errors). The wrapper calls
the original module, so HF's layer forward runs unchanged and no modelling code is copied.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from asl.engine.chunked_layer import DEFAULT_PREFILL_CHUNK

#: tokens per prefill chunk (attention queries and MLP; see ``asl.engine.chunked_layer``)
DEFAULT_MLP_CHUNK = DEFAULT_PREFILL_CHUNK


class TokenChunked(nn.Module):
    """Apply a per-token module to ``[batch, tokens, ...]`` inputs ``chunk`` tokens at a time."""

    def __init__(self, inner: nn.Module, chunk: int):
        super().__init__()
        self.inner, self.chunk = inner, chunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length, chunk = x.shape[1], self.chunk
        if length <= chunk:
            return self.inner(x)
        first = self.inner(x[:, :chunk])
        out = first.new_empty((x.shape[0], length, *first.shape[2:]))
        out[:, :chunk] = first
        del first
        for start in range(chunk, length, chunk):
            # every call sees exactly ``chunk`` tokens: the last one overlaps the previous chunk, so the
            # matrix kernels use one blocking throughout (BLAS may round a short last chunk differently)
            begin = min(start, length - chunk)
            out[:, start : start + chunk] = self.inner(x[:, begin : begin + chunk])[:, start - begin :]
        return out


def check_chunk(chunk: int | None) -> int | None:
    """``chunk`` must be None/0 (no chunking) or a positive integer; returns None for no chunking."""
    if chunk is None or chunk == 0:
        return None
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 0:
        raise ValueError(f"mlp_chunk must be a positive number of tokens, 0 or None, got {chunk!r}")
    return chunk


@contextmanager
def chunked_mlp(layers: Sequence[nn.Module], chunk: int | None) -> Iterator[None]:
    """Run every layer's ``mlp`` in token chunks for the duration of the block (no-op when ``chunk`` is None)."""
    swapped: list[tuple[nn.Module, nn.Module]] = []
    try:
        if chunk is not None:
            for layer in layers:
                inner = getattr(layer, "mlp", None)
                if isinstance(inner, nn.Module) and not isinstance(inner, TokenChunked):
                    layer.mlp = TokenChunked(inner, chunk)
                    swapped.append((layer, inner))
        yield
    finally:
        for layer, inner in reversed(swapped):
            layer.mlp = inner
