"""Naive references for the equivalence tests: plain HF layers, explicit masks, eager attention.

Nothing here uses the engine: selection scores come from HF's eager attention probabilities
(``output_attentions=True``), and propagation is recomputed without any cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F


@contextlib.contextmanager
def eager(model):
    """Temporarily switch a model to HF's eager attention."""
    previous = model.config._attn_implementation
    model.config._attn_implementation = "eager"
    try:
        yield model
    finally:
        model.config._attn_implementation = previous


def causal_mask(length: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive [1, 1, T, T] causal mask."""
    mask = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype).triu(1)
    return mask[None, None]


@torch.inference_mode()
def attention_probs(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """Per layer [H_q, N, N] softmax attention of a full forward (eager)."""
    with eager(model):
        out = model(ids, output_attentions=True)
    return [a[0].float() for a in out.attentions]


@torch.inference_mode()
def prompt_keys(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """Per layer post-RoPE keys [1, H_kv, N, d] of a plain HF forward."""
    out = model(ids, use_cache=True)
    return [layer.keys for layer in out.cache.layers]


def naive_kv_scores(probs: torch.Tensor, window: int, kernel: int, num_kv_heads: int) -> torch.Tensor:
    """S_kv from full attention probabilities: window rows summed, window columns dropped, pooled, grouped."""
    num_q_heads, length, _ = probs.shape
    hist = probs[:, length - window :, : length - window].sum(dim=1)
    pooled = (
        F.avg_pool1d(hist[:, None, :], kernel, stride=1, padding=kernel // 2)[:, 0, :] if kernel > 1 else hist
    )
    return pooled.view(num_kv_heads, num_q_heads // num_kv_heads, -1).sum(dim=1)


def naive_keep(scores: torch.Tensor, budget: int, window: int) -> torch.Tensor:
    """Top-(budget - window) of a 1-D prefix score vector plus the window, ascending."""
    prefix = scores.shape[0]
    order = sorted(range(prefix), key=lambda j: (-float(scores[j]), j))[: budget - window]
    return torch.tensor(sorted(order) + list(range(prefix, prefix + window)))


@torch.inference_mode()
def propagated_logits(model, ids: torch.Tensor, split_layer: int, keep_prompt: torch.Tensor, prompt_len: int):
    """Last-position logits, no cache: layers 0..split on every token, deeper layers on the kept prompt
    tokens plus every generated token, at their original positions, causal in original order."""
    base = model.model
    hidden = base.embed_tokens(ids)
    total = ids.shape[1]
    positions = torch.arange(total)[None]
    rope = base.rotary_emb(hidden, positions)
    with eager(model):
        for index, layer in enumerate(base.layers):
            if index == split_layer + 1:
                keep = torch.cat([keep_prompt, torch.arange(prompt_len, total)])
                hidden, positions = hidden[:, keep], positions[:, keep]
                rope = (rope[0][:, keep], rope[1][:, keep])
            mask = causal_mask(hidden.shape[1], hidden.dtype)
            out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope)
            hidden = out[0] if isinstance(out, tuple) else out
    return model.lm_head(base.norm(hidden[:, -1:]))[0, -1].float()


def naive_greedy(
    model, prompt: torch.Tensor, steps: int, split_layer: int, keep_prompt: torch.Tensor
) -> list[int]:
    """Greedy tokens of the no-cache propagation reference."""
    ids = prompt.clone()
    tokens = []
    for _ in range(steps):
        token = int(torch.argmax(propagated_logits(model, ids, split_layer, keep_prompt, prompt.shape[1])))
        tokens.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokens


def random_prompt(length: int, vocab: int, seed: int) -> torch.Tensor:
    """[1, length] token ids from a seeded generator (not all-ones)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (1, length), generator=generator)


@torch.inference_mode()
def greedy_with_masks(model, prompt: torch.Tensor, steps: int, mask_for) -> list[int]:
    """Greedy tokens without a cache: every step re-runs the whole sequence through HF's eager layers with
    the additive mask ``mask_for(total, layer, dtype)`` ([1, 1 or H_q, total, total]) at each layer."""
    base = model.model
    ids, tokens = prompt.clone(), []
    for _ in range(steps):
        hidden = base.embed_tokens(ids)
        total = ids.shape[1]
        positions = torch.arange(total)[None]
        rope = base.rotary_emb(hidden, positions)
        with eager(model):
            for index, layer in enumerate(base.layers):
                mask = mask_for(total, index, hidden.dtype)
                out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope)
                hidden = out[0] if isinstance(out, tuple) else out
        token = int(torch.argmax(model.lm_head(base.norm(hidden[:, -1:]))[0, -1]))
        tokens.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokens


def masked_decode_greedy(
    model, prompt: torch.Tensor, steps: int, keep_per_layer: list[torch.Tensor]
) -> list[int]:
    """Greedy tokens without a cache where generated tokens see, at layer l and KV head g, only the prompt
    positions ``keep_per_layer[l][g]`` (plus every generated token); prompt tokens attend causally as usual.
    This is what per-KV-head cache compression after prefill means."""
    prompt_len = prompt.shape[1]
    num_q = model.config.num_attention_heads
    group = num_q // model.config.num_key_value_heads

    def mask_for(total: int, index: int, dtype: torch.dtype) -> torch.Tensor:
        mask = causal_mask(total, dtype).expand(1, num_q, total, total).clone()
        for head in range(num_q):
            dropped = torch.ones(prompt_len, dtype=torch.bool)
            dropped[keep_per_layer[index][head // group]] = False
            mask[0, head, prompt_len:, :prompt_len][:, dropped] = torch.finfo(dtype).min
        return mask

    return greedy_with_masks(model, prompt, steps, mask_for)


# ---------------------------------------------------------------------------------------------------------
# Independent ASL oracle and SnapKV-before propagation references (issue 14).
#
# Everything below uses only HF decoder layers with eager attention and plain Python/torch. Scores come from
# the eager attention probabilities of the reference's own prefill; ranks, the rank-variance rule and the
# kept sets are recomputed here from methods.md §0.3, §2, §4 and §5, never taken from the engine.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ReferencePrefill:
    """A no-cache prefill: last-position logits and, per layer, the window rows of its attention."""

    logits: torch.Tensor  # [vocab] float32
    window_rows: list[torch.Tensor]  # per layer [H_q, w, T_l] eager probabilities of the last w queries


def _layer_output(out) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


@torch.inference_mode()
def reference_forward(
    model,
    ids: torch.Tensor,
    prompt_len: int,
    split_layer: int | None = None,
    keep_prompt: torch.Tensor | None = None,
    kv_keep: Sequence[torch.Tensor | None] | None = None,
    window: int = 0,
) -> ReferencePrefill:
    """Last-position logits of ``ids`` (prompt + generated tokens) without any cache.

    * Layers 0..``split_layer`` run on every token; after that layer's MLP the hidden states, position ids
      and RoPE are gathered to ``keep_prompt`` (prompt indices) plus every generated token, which keep their
      original positions; deeper layers attend causally in original order. ``split_layer=None``: no gather.
    * ``kv_keep[l]`` ([H_kv, C] indices into the prompt tokens layer ``l`` sees, or None): generated tokens
      (query rows after the prompt) see at KV head g only those prompt entries, i.e. what a per-KV-head
      compressed cache holds; prompt tokens always attend causally to the whole prompt of their layer.
    * ``window > 0`` records, per layer, the eager probabilities of the last ``window`` query rows (meaningful
      for a prompt-only call, where they are the observation window). They are read from the attention
      module's output by a forward hook: the tensor ``output_attentions=True`` would return, cut to the window
      rows at once so that long prompts do not hold every layer's [H_q, T, T] matrix.
    """
    base = model.model
    config = model.config
    num_q, num_kv = config.num_attention_heads, config.num_key_value_heads
    hidden = base.embed_tokens(ids)
    positions = torch.arange(ids.shape[1])[None]
    rope = base.rotary_emb(hidden, positions)
    prompt = prompt_len
    rows: list[torch.Tensor] = []

    def record(module, args, output) -> None:
        rows.append(output[1][0, :, -window:, :].float().clone())

    hooks = [layer.self_attn.register_forward_hook(record) for layer in base.layers] if window else []
    try:
        with eager(model):
            for index, layer in enumerate(base.layers):
                if split_layer is not None and index == split_layer + 1:
                    keep = torch.cat([keep_prompt, torch.arange(prompt, hidden.shape[1])])
                    hidden, positions = hidden[:, keep], positions[:, keep]
                    rope = (rope[0][:, keep], rope[1][:, keep])
                    prompt = keep_prompt.shape[0]
                total = hidden.shape[1]
                mask = causal_mask(total, hidden.dtype)
                layer_keep = kv_keep[index] if kv_keep is not None else None
                if layer_keep is not None and total > prompt:
                    dropped = torch.ones(num_kv, prompt, dtype=torch.bool)
                    dropped.scatter_(1, layer_keep, False)
                    dropped = dropped.repeat_interleave(num_q // num_kv, dim=0)  # [H_q, P]
                    mask = mask.expand(1, num_q, total, total).clone()
                    mask[0, :, prompt:, :prompt] = mask[0, :, prompt:, :prompt].masked_fill(
                        dropped[:, None, :], torch.finfo(hidden.dtype).min
                    )
                out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope)
                hidden = _layer_output(out)
    finally:
        for hook in hooks:
            hook.remove()
    return ReferencePrefill(model.lm_head(base.norm(hidden[:, -1:]))[0, -1].float(), rows)


def window_kv_scores_from_rows(rows: torch.Tensor, kernel: int, num_kv_heads: int) -> torch.Tensor:
    """S_kv [H_kv, T - w] (methods.md §0.3 steps 4-6) from the window rows [H_q, w, T] of eager probabilities:
    window columns dropped, rows summed, avg-pooled (zero padding counted), summed per GQA group."""
    num_q, window, length = rows.shape
    hist = rows[:, :, : length - window].double().sum(dim=1)
    pooled = F.avg_pool1d(hist[:, None, :], kernel, stride=1, padding=kernel // 2)[:, 0, :]
    return pooled.view(num_kv_heads, num_q // num_kv_heads, -1).sum(dim=1)


def descending_order_naive(scores: torch.Tensor) -> list[int]:
    """Positions by score descending, ties by position ascending (methods.md §5.1)."""
    values = scores.tolist()
    return sorted(range(len(values)), key=lambda j: (-values[j], j))


def descending_ranks_naive(scores: torch.Tensor) -> list[int]:
    """Rank 1..n of each position (1 = highest score), ties by position ascending."""
    ranks = [0] * scores.shape[0]
    for rank, position in enumerate(descending_order_naive(scores), start=1):
        ranks[position] = rank
    return ranks


def top_ranked_with_window(ranks: Sequence[int], num_keep: int, window: int) -> list[int]:
    """The min(num_keep - window, n) best-ranked prefix positions plus the window, ascending."""
    prefix = len(ranks)
    m = min(num_keep - window, prefix)
    return sorted([j for j in range(prefix) if ranks[j] <= m] + list(range(prefix, prefix + window)))


def rank_variance_naive(rank_rows: torch.Tensor, m: int) -> float:
    """v of methods.md §5.2 for a [layers, n] rank matrix: per-token population variance of the ranks
    (divisor = the number of layers), averaged over the union of the per-layer top-m sets."""
    rows = rank_rows.double()
    union = (rows <= m).any(dim=0)
    if not bool(union.any()):
        return 0.0
    chosen = rows[:, union]
    centred = chosen - chosen.mean(dim=0, keepdim=True)
    return float((centred**2).mean(dim=0).mean())


def near_ties(scores: torch.Tensor, rel: float) -> list[tuple[int, int]]:
    """Neighbours (a, b) in the descending order whose scores differ by at most ``rel`` of the larger one:
    their order is not determined at float32 precision (an exact implementation that sums in another order
    may rank them either way)."""
    order = descending_order_naive(scores)
    values = scores.tolist()
    return [
        (a, b)
        for a, b in zip(order, order[1:], strict=False)
        if values[a] - values[b] <= rel * max(abs(values[a]), abs(values[b]))
    ]


@dataclass
class RuleOutcome:
    """What the ASL rule (methods.md §5.2, §6) decides for one prompt, with its float32 ambiguity."""

    trace: dict[int, float]  # rho per checked layer: L_min .. the selection layer (or the last layer)
    layer: int | None  # the selection layer; None when the threshold is never met (one pass)
    keep: list[int] | None  # S: top-m of the selection layer's ranks plus the window, ascending
    fired: bool  # whether rho < tau happened (False for the ASL_2pass fallback)
    slack: dict[int, float]  # per checked layer: sum of |rho changes| from swapping near-tied neighbours
    boundary_tie: bool  # a near tie straddles rank m at the selection layer (S itself is then ambiguous)


def asl_rule_oracle(
    token_scores: Sequence[torch.Tensor],
    *,
    tau: float,
    l_min: int,
    l_obs: int,
    num_keep: int,
    window: int,
    two_pass: bool = False,
    tie_rel: float = 5e-5,
) -> RuleOutcome:
    """The ASL stopping rule of methods.md §5.2 on per-layer token scores of the full prompt.

    At each layer l >= L_min the rank window holds layers max(0, l - L_obs + 1)..l; rho_l = v_l / v_{L_min}
    (1 when both are 0, inf when only v_{L_min} is 0); the first l with rho_l < tau is selected and
    S = top-m of r_l only, plus the window. ``two_pass``: when the rule never fires, the last layer is selected
    from its own ranks (methods.md §6.4).

    ``slack`` bounds how far an exact implementation may legitimately differ from ``trace``: neighbours whose
    scores differ by less than ``tie_rel`` (relative) are float32 near ties: the engine sums in another order
    (measured relative score errors: up to 7e-6 on the embedded model, 1.5e-7 on the tiny ones), so it may
    rank them either way. Each such neighbour swap is applied alone and its effect on rho summed.
    """
    ranks = torch.tensor([descending_ranks_naive(s) for s in token_scores], dtype=torch.float64)
    num_layers, prefix = ranks.shape
    m = min(num_keep - window, prefix)

    def span(layer: int) -> range:
        return range(max(0, layer - l_obs + 1), layer + 1)

    def variance(table: torch.Tensor, layer: int) -> float:
        return rank_variance_naive(table[span(layer)[0] : layer + 1], m)

    def ratio(value: float, reference: float) -> float:
        if reference == 0.0:
            return 1.0 if value == 0.0 else float("inf")
        return value / reference

    reference = variance(ranks, l_min)
    trace: dict[int, float] = {}
    layer, fired = None, False
    for current in range(l_min, num_layers):
        trace[current] = ratio(variance(ranks, current), reference)
        if trace[current] < tau:
            layer, fired = current, True
            break
    if layer is None and two_pass:
        layer = num_layers - 1

    base: dict[int, tuple[torch.Tensor, torch.Tensor, float]] = {}
    for at in [l_min, *trace]:
        rows = ranks[span(at)[0] : at + 1]
        base[at] = (rows, (rows <= m).any(dim=0), variance(ranks, at))

    def swapped_variance(at: int, source: int, a: int, b: int) -> float:
        """v_at after swapping the ranks of a and b in layer ``source`` (one swap at a time)."""
        rows, union, value = base[at]
        if source not in span(at):
            return value
        if sorted((int(ranks[source, a]), int(ranks[source, b]))) == [m, m + 1]:
            table = ranks.clone()  # the swap moves a token across rank m: the union changes
            table[source, a], table[source, b] = ranks[source, b], ranks[source, a]
            return variance(table, at)
        size = int(union.sum())
        total = value * size
        row = source - span(at)[0]
        for token, other in ((a, b), (b, a)):
            if bool(union[token]):
                column = rows[:, token].clone()
                before = float(((column - column.mean()) ** 2).mean())
                column[row] = ranks[source, other]
                total += float(((column - column.mean()) ** 2).mean()) - before
        return total / size

    slack = dict.fromkeys(trace, 0.0)
    boundary_tie = False
    for source in range(span(l_min)[0], max(trace) + 1):
        for a, b in near_ties(token_scores[source], tie_rel):
            pair = sorted((int(ranks[source, a]), int(ranks[source, b])))
            boundary_tie |= source == layer and pair == [m, m + 1]
            moved_reference = swapped_variance(l_min, source, a, b)
            for checked in trace:
                if source in span(checked) or source in span(l_min):
                    moved = ratio(swapped_variance(checked, source, a, b), moved_reference)
                    slack[checked] += abs(moved - trace[checked])
    keep = None if layer is None else top_ranked_with_window(ranks[layer].long().tolist(), num_keep, window)
    return RuleOutcome(trace, layer, keep, fired, slack, boundary_tie)


def per_head_keep(kv_scores: torch.Tensor, budget: int, window: int) -> torch.Tensor:
    """SnapKV per KV head: top-(budget - window) prefix positions (ties by position) plus the window,
    ascending: [H_kv, budget]."""
    return torch.stack([naive_keep(kv_scores[g], budget, window) for g in range(kv_scores.shape[0])])


def prompt_token_scores(model, prompt: torch.Tensor, window: int, kernel: int) -> list[torch.Tensor]:
    """Per layer the token scores s (methods.md §0.3 step 7) of a full-prompt eager forward."""
    ref = reference_forward(model, prompt, prompt.shape[1], window=window)
    num_kv = model.config.num_key_value_heads
    return [window_kv_scores_from_rows(r, kernel, num_kv).sum(dim=0) for r in ref.window_rows]


@dataclass
class OnePassReference:
    """Naive one-pass (SnapKV / FastKV / ASL) run: first-token logits, greedy tokens, prompt KV per layer."""

    logits: torch.Tensor
    tokens: list[int]
    kv_lengths: list[int]
    kv_keep: list[torch.Tensor | None]


def one_pass_reference(
    model,
    prompt: torch.Tensor,
    steps: int,
    *,
    budget: int | None,
    window: int,
    kernel: int,
    split_layer: int | None = None,
    keep_prompt: Sequence[int] | torch.Tensor | None = None,
) -> OnePassReference:
    """No-cache reference of a one-pass method: propagation of ``keep_prompt`` after ``split_layer``'s MLP at
    original positions, and SnapKV to ``budget`` per layer and KV head (``budget=None``: Full-before).

    Each layer's kept entries are recomputed from this reference's own prefill attention: the full prompt up
    to the split layer, the propagated tokens after it (compressed again only if they exceed the budget).
    Decoding masks, per layer and KV head, the dropped prompt entries from every generated token.
    """
    prompt_len = prompt.shape[1]
    keep = None if keep_prompt is None else torch.as_tensor(keep_prompt, dtype=torch.long)
    if keep is not None and keep.shape[0] >= prompt_len:
        split_layer, keep = None, None  # the set is every token: nothing to gather
    prefill = reference_forward(model, prompt, prompt_len, split_layer, keep, window=window)
    num_kv = model.config.num_key_value_heads
    kv_keep: list[torch.Tensor | None] = []
    kv_lengths = []
    for rows in prefill.window_rows:
        length = rows.shape[-1]
        if budget is not None and length > budget:
            kv_keep.append(per_head_keep(window_kv_scores_from_rows(rows, kernel, num_kv), budget, window))
            kv_lengths.append(budget)
        else:
            kv_keep.append(None)
            kv_lengths.append(length)
    tokens = [int(torch.argmax(prefill.logits))]
    ids = prompt
    while len(tokens) < steps:
        ids = torch.cat([ids, torch.tensor([[tokens[-1]]])], dim=1)
        logits = reference_forward(model, ids, prompt_len, split_layer, keep, kv_keep).logits
        tokens.append(int(torch.argmax(logits)))
    return OnePassReference(prefill.logits, tokens, kv_lengths, kv_keep)


@dataclass
class EngineSelection:
    """What one engine prefill selected, as read by :func:`engine_selection`."""

    layer: int | None
    rel_variance: dict[int, float]  # empty for a one-pass prefill whose rule never fired (see below)
    keep: list[int] | None


def engine_selection(trace) -> EngineSelection:
    """Selection layer, rho trace and selected prompt indices of an ``asl.engine.trace_prefill`` result.

    The only place the fidelity tests read engine internals: ``trace.session.selection_layer`` and
    ``trace.session.rel_variance`` (set when the layer is selected; a one-pass prefill that never selects
    leaves it empty, ``generate`` reports it then); for two-pass methods ``trace.selected`` (pass 1's choice);
    for one-pass methods ``trace.session.selector.keep`` (the propagation set, also when it is every token and
    nothing is gathered).
    """
    session = trace.session
    keep = trace.selected if trace.selected is not None else getattr(session.selector, "keep", None)
    return EngineSelection(
        session.selection_layer,
        dict(session.rel_variance),
        None if keep is None else [int(j) for j in keep],
    )


HAYSTACK = Path(__file__).resolve().parents[1] / "eval" / "data" / "areopagitica.txt"


def text_prompt(
    tokenizer, body_tokens: int, start: int = 0, question: str = "What is this passage about?"
) -> list[int]:
    """A real chat prompt: ``body_tokens`` tokens of the bundled public-domain text (from character
    ``start``), then a question, in the tokenizer's chat template with the assistant header."""
    text = HAYSTACK.read_text(encoding="utf-8")[start : start + 8 * body_tokens]
    body = tokenizer.decode(tokenizer(text)["input_ids"][:body_tokens])
    messages = [{"role": "user", "content": f"{body}\n\n{question} Answer briefly."}]
    return list(
        tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    )
