"""Bradley–Terry on votes with a known order, and paired bootstrap differences."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gallery.rankings import (
    bradley_terry_strengths,
    expand_votes,
    paired_difference,
    rank_variants,
)


def simulated_votes(strengths, count, seed=1):
    rng = random.Random(seed)
    votes = []
    for _ in range(count):
        i, j = rng.sample(range(len(strengths)), 2)
        p = np.exp(strengths[i]) / (np.exp(strengths[i]) + np.exp(strengths[j]))
        votes.append((i, j) if rng.random() < p else (j, i))
    return votes


def test_bradley_terry_recovers_a_known_order_with_intervals():
    truth = [0.0, 2.0, -1.5, 1.0]  # order: 1, 3, 0, 2
    ranks = rank_variants(simulated_votes(truth, 400), 4, rounds=200)
    assert [r.variant for r in ranks] == [1, 3, 0, 2]
    for rank in ranks:
        assert rank.low <= rank.strength <= rank.high
    # the strongest and weakest are told apart: their intervals do not overlap
    assert ranks[0].low > ranks[-1].high
    assert sum(r.votes for r in ranks) == 800


def test_the_fit_is_the_maximum_likelihood_one_where_expected_wins_equal_observed():
    votes = simulated_votes([0.5, 0.0, -0.5], 300, seed=4)
    logs = bradley_terry_strengths(votes, 3, pseudo_count=0.0)
    p = np.exp(logs)
    wins = np.zeros(3)
    expected = np.zeros(3)
    for winner, loser in votes:
        wins[winner] += 1
        expected[winner] += p[winner] / (p[winner] + p[loser])
        expected[loser] += p[loser] / (p[winner] + p[loser])
    np.testing.assert_allclose(expected, wins, rtol=1e-6)
    # against a closed form: two players, w wins and l losses -> log-odds log(w/l)
    two = bradley_terry_strengths([(0, 1)] * 30 + [(1, 0)] * 10, 2, pseudo_count=0.0)
    assert two[0] - two[1] == pytest.approx(np.log(3.0), rel=1e-6)


def test_a_best_of_row_pick_counts_as_a_win_over_every_other_variant():
    assert expand_votes([(1, None), (0, 2)], 3) == [(1, 0), (1, 2), (0, 2)]
    ranks = rank_variants([(2, None)] * 5, 3, rounds=50)
    assert ranks[0].variant == 2 and ranks[0].wins == 10


def test_no_votes_gives_equal_strengths():
    ranks = rank_variants([], 3)
    assert all(r.strength == pytest.approx(0.0) and r.votes == 0 for r in ranks)


def test_paired_difference_mean_and_bootstrap_interval():
    values = [30.0, 31.0, 29.5, 32.0, 30.5, 31.5]
    reference = [28.0, 28.5, 28.0, 29.0, 28.0, 29.5]
    result = paired_difference(values, reference, rounds=2000)
    assert result.mean == pytest.approx(np.mean(np.subtract(values, reference)))
    assert result.pairs == 6
    assert 0 < result.low <= result.mean <= result.high
    # pairing matters: a constant shift has no spread at all
    shifted = paired_difference([v + 1 for v in reference], reference)
    assert (shifted.low, shifted.mean, shifted.high) == pytest.approx((1.0, 1.0, 1.0))
    # a difference of zero on average gives an interval around zero
    noise = paired_difference([1, -1, 2, -2, 0.5, -0.5], [0] * 6)
    assert noise.low < 0 < noise.high
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])
