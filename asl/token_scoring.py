"""Pure scoring, ranking and selection functions shared by every method (methods.md §0.3, §2-§6).

Shapes follow Hugging Face attention: ``query`` is [1, H_q, T, d] and ``key`` is [1, H_kv, T, d], both
post-RoPE. Query head ``h`` reads key head ``h // G`` with ``G = H_q / H_kv``; keys are never repeated to
the query heads, the grouped matmul broadcasts instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_attention_histogram(
    query: torch.Tensor, key: torch.Tensor, window: int, scaling: float
) -> torch.Tensor:
    """Past-only attention histogram of the last ``window`` queries (§0.3 steps 1-4).

    ``query`` holds the layer's *last* queries ([1, H_q, Tq, d], Tq >= window: the engine passes the last
    prefill chunk's), ``key`` all T keys. Logits are ``q·k * scaling`` with a causal mask only inside the
    bottom-right window block, softmax over all keys in fp32, summed over the window queries, window
    columns dropped. Computed one KV head at a time, so the fp32 temporaries are G·w·T, not H_q·w·T.
    Returns [H_q, T - window].
    """
    _, num_q_heads, tail, head_dim = query.shape
    num_kv_heads, length = key.shape[1], key.shape[2]
    group = num_q_heads // num_kv_heads
    q_window = query[0, :, tail - window :, :].reshape(num_kv_heads, group * window, head_dim)
    future = torch.triu(torch.ones(window, window, dtype=torch.bool, device=query.device), diagonal=1)
    out = torch.empty(num_kv_heads, group, length - window, dtype=torch.float32, device=query.device)
    for head in range(num_kv_heads):
        logits = torch.matmul(q_window[head], key[0, head].transpose(-1, -2)).float().mul_(scaling)
        logits = logits.view(group, window, length)  # [G, w, T]
        logits[..., length - window :].masked_fill_(future, float("-inf"))
        out[head] = torch.softmax(logits, dim=-1)[..., : length - window].sum(dim=1)
        del logits
    return out.view(num_q_heads, length - window)


def avg_pool_scores(scores: torch.Tensor, kernel: int) -> torch.Tensor:
    """AvgPool1d along the last axis, stride 1, padding kernel//2, zero padding counted (PyTorch default)."""
    if kernel <= 1:
        return scores
    return F.avg_pool1d(scores.unsqueeze(-2), kernel_size=kernel, stride=1, padding=kernel // 2).squeeze(-2)


def kv_head_scores(pooled_q_scores: torch.Tensor, num_kv_heads: int) -> torch.Tensor:
    """Sum pooled per-query-head scores within each GQA group (§0.3 step 6): [H_q, n] -> [H_kv, n]."""
    num_q_heads, n = pooled_q_scores.shape
    return pooled_q_scores.view(num_kv_heads, num_q_heads // num_kv_heads, n).sum(dim=1)


def window_kv_scores(
    query: torch.Tensor, key: torch.Tensor, window: int, pool_kernel: int, scaling: float
) -> torch.Tensor:
    """SnapKV/FastKV/ASL per-KV-head prefix scores S_kv (§0.3 steps 1-6): [H_kv, T - window]."""
    histogram = window_attention_histogram(query, key, window, scaling)
    return kv_head_scores(avg_pool_scores(histogram, pool_kernel), key.shape[1])


def token_scores(kv_scores: torch.Tensor) -> torch.Tensor:
    """Per-token score s = sum over all heads (§0.3 step 7): [H_kv, n] -> [n]."""
    return kv_scores.sum(dim=0)


def descending_order(scores: torch.Tensor) -> torch.Tensor:
    """Indices by score descending, ties by position ascending (stable sort) along the last axis."""
    return torch.sort(scores, dim=-1, descending=True, stable=True).indices


def descending_ranks(scores: torch.Tensor) -> torch.Tensor:
    """Float ranks 1..n of a 1-D score vector, 1 = highest score, ties broken by position (§5.1)."""
    order = descending_order(scores)
    ranks = torch.empty(scores.shape[-1], dtype=torch.float32, device=scores.device)
    ranks[order] = torch.arange(1, scores.shape[-1] + 1, dtype=torch.float32, device=scores.device)
    return ranks


def snapkv_keep_indices(kv_scores: torch.Tensor, budget: int, window: int) -> torch.Tensor:
    """Per KV head: top-(budget - window) prefix positions plus the window, sorted ascending: [H_kv, budget].

    ``kv_scores`` is [H_kv, T - window]; the caller guarantees T > budget.
    """
    num_kv_heads, prefix = kv_scores.shape
    top = descending_order(kv_scores)[:, : budget - window]
    tail = torch.arange(prefix, prefix + window, device=kv_scores.device).expand(num_kv_heads, window)
    return torch.sort(torch.cat([top, tail], dim=1), dim=1).values


def gather_kv(states: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Gather [1, H_kv, T, d] along T with per-head indices [H_kv, k] -> [1, H_kv, k, d]."""
    index = indices.unsqueeze(0).unsqueeze(-1).expand(1, -1, -1, states.shape[-1])
    return torch.gather(states, 2, index)


def select_by_ranks(ranks: torch.Tensor, num_keep: int, window: int) -> torch.Tensor:
    """Propagation set: the ``num_keep - window`` best-ranked prefix tokens plus the window, ascending.

    ``ranks`` ranks the prefix (length n = T - window, a permutation of 1..n); all prefix tokens are kept
    when n is small enough. The positions of ranks 1..m, sorted: a set of static size (no ``nonzero``).
    """
    prefix = ranks.shape[0]
    m = min(num_keep - window, prefix)
    chosen = torch.sort(torch.argsort(ranks, stable=True)[:m]).values
    tail = torch.arange(prefix, prefix + window, device=ranks.device)
    return torch.cat([chosen, tail])


def relative_rank_variance_numerator(rank_history: torch.Tensor, num_candidates: int) -> float:
    """v_l of §5.2: mean per-token population variance of ranks over the union of per-layer top-m sets.

    ``rank_history`` is [L_obs, n] (float ranks, 1 = best); ``num_candidates`` is m.
    """
    in_union = (rank_history <= num_candidates).any(dim=0)
    selected = rank_history[:, in_union].double()
    if selected.numel() == 0:
        return 0.0
    return float(selected.var(dim=0, unbiased=False).mean())


def gemfilter_scores(query: torch.Tensor, key: torch.Tensor, pool_kernel: int) -> torch.Tensor:
    """GemFilter token scores (§3): last-token query · all keys, no scaling, no softmax, summed over all
    query heads, then avg-pooled. Returns [T]."""
    num_q_heads, head_dim = query.shape[1], query.shape[3]
    num_kv_heads = key.shape[1]
    q_last = query[0, :, -1, :].reshape(num_kv_heads, num_q_heads // num_kv_heads, head_dim)
    dots = torch.matmul(q_last, key[0].transpose(-1, -2)).float()  # [H_kv, G, T]
    return avg_pool_scores(dots.sum(dim=(0, 1)).unsqueeze(0), pool_kernel).squeeze(0)


def top_k_ascending(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The top-min(k, n) positions by score (ties by position), sorted ascending."""
    return torch.sort(descending_order(scores)[: min(k, scores.shape[-1])]).values
