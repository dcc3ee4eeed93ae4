"""ASL's rank-variance rule on hand-made score/rank matrices (methods.md §5.2)."""

from __future__ import annotations

import pytest
import torch

from asl.methods.base import LayerScores
from asl.methods.selectors import AdaptiveLayerSelector, relative_variance
from asl.token_scoring import descending_ranks, relative_rank_variance_numerator, select_by_ranks
from tests.reference import asl_rule_oracle, descending_order_naive


class FixedScores(LayerScores):
    """LayerScores with a given token-score vector (bypasses attention)."""

    def __init__(self, scores):
        self.token_scores = torch.as_tensor(scores, dtype=torch.float32)


def test_descending_ranks_break_ties_by_position():
    assert descending_ranks(torch.tensor([0.5, 2.0, 0.5, 3.0])).tolist() == [3.0, 2.0, 4.0, 1.0]


def test_rank_variance_by_hand():
    ranks = torch.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 3.0, 4.0]])
    # m = 1: union of top-1 sets = tokens {0, 1}; each has ranks {1, 2} -> population variance 0.25
    assert relative_rank_variance_numerator(ranks, 1) == pytest.approx(0.25)
    # m = 3: tokens {0, 1, 2}: variances 0.25, 0.25, 0 -> mean 1/6
    assert relative_rank_variance_numerator(ranks, 3) == pytest.approx(1 / 6)


def test_select_by_ranks_keeps_top_and_window_sorted():
    ranks = torch.tensor([4.0, 1.0, 3.0, 2.0])
    assert select_by_ranks(ranks, num_keep=4, window=2).tolist() == [1, 3, 4, 5]
    assert select_by_ranks(ranks, num_keep=10, window=2).tolist() == [0, 1, 2, 3, 4, 5]


def feed(selector: AdaptiveLayerSelector, layers: list[list[float]]) -> None:
    for layer, scores in enumerate(layers):
        if selector.wants_scores(layer):
            selector.observe(layer, FixedScores(scores))


def shuffled(n: int, seed: int) -> list[float]:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).float().tolist()


def test_selects_when_ranks_stabilise():
    n = 12
    noisy = [shuffled(n, s) for s in range(4)]  # layers 0-3: ranks jump around
    stable = [list(range(n, 0, -1))] * 6  # layers 4-9: identical ranking
    selector = AdaptiveLayerSelector(tau=0.3, l_min=3, l_obs=2, num_keep=6, window=2)
    feed(selector, noisy + stable)
    assert selector.trace[3] == 1.0
    # layer 4 still mixes layer 3's noisy ranks; layer 5's window holds two identical rankings -> 0
    assert selector.selected_layer == 5
    assert selector.trace[5] == 0.0
    assert selector.keep.tolist() == [0, 1, 2, 3, 12, 13]


def test_never_selects_with_unreachable_threshold():
    selector = AdaptiveLayerSelector(tau=1e-9, l_min=2, l_obs=3, num_keep=6, window=2)
    feed(selector, [shuffled(12, s) for s in range(8)])
    assert selector.selected_layer is None
    assert sorted(selector.trace) == list(range(2, 8))


def test_l_min_is_the_reference_and_cannot_select_itself():
    selector = AdaptiveLayerSelector(tau=1.0, l_min=0, l_obs=1, num_keep=6, window=2)
    feed(selector, [shuffled(12, 0)] * 3)
    # with l_obs = 1 every variance is 0 -> rho(0) = 1 (0/0), never below tau = 1.0 at l_min
    assert selector.trace[0] == 1.0
    assert selector.selected_layer is None


def test_first_observed_layer_is_clipped_at_zero():
    assert AdaptiveLayerSelector(0.3, l_min=10, l_obs=8, num_keep=6, window=2).first_observed == 3
    assert AdaptiveLayerSelector(0.3, l_min=2, l_obs=8, num_keep=6, window=2).first_observed == 0


def test_relative_variance_edge_cases():
    assert relative_variance(2.0, 4.0) == 0.5
    assert relative_variance(0.0, 0.0) == 1.0
    assert relative_variance(1.0, 0.0) == float("inf")


def test_forced_layer_keeps_monitoring_and_ignores_tau():
    n = 12
    layers = [shuffled(n, s) for s in range(4)] + [list(range(n, 0, -1))] * 6
    selector = AdaptiveLayerSelector(tau=0.3, l_min=3, l_obs=2, num_keep=6, window=2, force_layer=7)
    feed(selector, layers)  # unforced, the rule fires at layer 5 (test_selects_when_ranks_stabilise)
    assert selector.selected_layer == 7
    assert sorted(selector.trace) == [3, 4, 5, 6, 7]  # the monitoring still ran up to the forced layer
    assert selector.trace[5] == 0.0


# --- distinct rank vectors: the spec's choices against the alternatives they exclude (issue 14) ----------


def test_keeps_top_m_of_the_selection_layer_only_not_the_union():
    """Layers 4 and 5 agree except that tokens 3 and 4 swap ranks 4 and 5 (m = 4): the rule fires at 5 and
    keeps layer 5's top 4 plus the window; the union over the rank window would also keep token 3."""
    n = 12
    base = [float(n - j) for j in range(n)]  # token 0 best
    swapped = list(base)
    swapped[3], swapped[4] = base[4], base[3]
    selector = AdaptiveLayerSelector(tau=0.3, l_min=3, l_obs=2, num_keep=6, window=2)
    scores = [shuffled(n, s) for s in range(4)] + [base, swapped]
    feed(selector, scores)
    assert selector.selected_layer == 5
    # union {0..4}: tokens 3 and 4 have ranks {4, 5} -> variance 0.25 each, the others 0 -> v_5 = 0.1
    v_lmin = relative_rank_variance_numerator(
        torch.stack([descending_ranks(torch.tensor(s)) for s in scores[2:4]]), 4
    )
    assert selector.trace[5] == pytest.approx(0.1 / v_lmin)
    assert selector.trace[4] >= 0.3
    assert selector.keep.tolist() == [0, 1, 2, 4, 12, 13]  # not [0, 1, 2, 3, 4, 12, 13]


def test_fallback_uses_the_last_layers_ranks():
    """ASL_2pass's fallback (the rule never fires) keeps the last layer's top m, which here differs from
    L_min's, from the reference window's and from the union of the last window."""
    n, m = 12, 4
    scores = [shuffled(n, 10 + s) for s in range(8)]
    selector = AdaptiveLayerSelector(tau=1e-9, l_min=2, l_obs=3, num_keep=m + 2, window=2)
    feed(selector, scores)
    assert selector.selected_layer is None
    selector.select_fallback(7)
    assert selector.selected_layer == 7

    def top(layer: int) -> list[int]:
        return sorted(descending_order_naive(torch.tensor(scores[layer]))[:m]) + [12, 13]

    assert selector.keep.tolist() == top(7)
    assert top(7) != top(2) and top(7) != top(6)
    assert len(selector.keep) == m + 2  # not the union of layers 5..7


@pytest.mark.parametrize("seed", range(12))
def test_rule_equals_the_naive_oracle_on_converging_scores(seed):
    """Random distinct scores that converge with depth (so the rule fires at varying layers, or never):
    the selector's rho trace, layer and set equal the independent oracle of tests/reference.py for several
    L_min / L_obs (clipped windows included), m and tau."""
    generator = torch.Generator().manual_seed(seed)
    n, layers = 40, 12
    l_min, l_obs = 1 + seed % 3, 2 + seed % 4
    tau, num_keep, window = (0.3, 0.5, 0.7)[seed % 3], (10, 16, 24)[seed % 2], 4
    target = torch.rand(n, generator=generator)
    scores = [
        target + (1.5 / (1 + layer * (seed % 4))) * torch.rand(n, generator=generator)
        for layer in range(layers)
    ]
    selector = AdaptiveLayerSelector(tau, l_min, l_obs, num_keep, window)
    feed(selector, [s.tolist() for s in scores])
    oracle = asl_rule_oracle(
        [torch.tensor(s.tolist()) for s in scores],
        tau=tau,
        l_min=l_min,
        l_obs=l_obs,
        num_keep=num_keep,
        window=window,
    )
    assert selector.selected_layer == oracle.layer
    assert sorted(selector.trace) == sorted(oracle.trace)
    for layer, rho in oracle.trace.items():
        assert selector.trace[layer] == pytest.approx(rho, rel=1e-9, abs=1e-12)
    assert (None if selector.keep is None else selector.keep.tolist()) == oracle.keep
