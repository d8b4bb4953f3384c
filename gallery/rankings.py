"""Statistics over what an experiment keeps: variants ranked from votes (Bradley–Terry) and
paired score differences with bootstrap intervals. Pure numpy; deterministic (seeded).

Bradley–Terry: P(i beats j) = p_i / (p_i + p_j). Strengths are fitted by Hunter's (2004) MM
iterations with a small symmetric pseudo-count per pair (so a variant that never lost still has
a finite strength), reported as log-strengths centred on 0. Intervals are percentile bootstrap
intervals over the votes. A "best of the row" pick counts as a win over every other variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PSEUDO_COUNT = 0.1
BOOTSTRAP_ROUNDS = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class VariantRank:
    """One variant's place in a Bradley–Terry ranking."""

    variant: int  # index into the variants given
    strength: float  # log-strength, the mean over variants is 0
    low: float  # interval of the log-strength
    high: float
    wins: int
    losses: int

    @property
    def votes(self) -> int:
        return self.wins + self.losses


@dataclass(frozen=True)
class PairedDifference:
    """Mean of paired differences (variant minus reference) with a bootstrap interval."""

    mean: float
    low: float
    high: float
    pairs: int


def expand_votes(
    votes: Sequence[tuple[int, int | None]], variant_count: int
) -> list[tuple[int, int]]:
    """(winner, loser) pairs; a `(winner, None)` pick becomes a win over every other variant."""
    pairs: list[tuple[int, int]] = []
    for winner, loser in votes:
        if loser is None:
            pairs.extend((winner, other) for other in range(variant_count) if other != winner)
        else:
            pairs.append((winner, loser))
    return pairs


def bradley_terry_strengths(
    pairs: Sequence[tuple[int, int]],
    variant_count: int,
    pseudo_count: float = PSEUDO_COUNT,
    iterations: int = 500,
    tolerance: float = 1e-10,
) -> np.ndarray:
    """Log-strengths (mean 0) fitted to (winner, loser) index pairs."""
    wins = np.full((variant_count, variant_count), pseudo_count, dtype=float)
    np.fill_diagonal(wins, 0.0)
    for winner, loser in pairs:
        wins[winner, loser] += 1.0
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    strength = np.ones(variant_count)
    for _ in range(iterations):
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = total_wins / denominator
        updated /= np.exp(np.log(updated).mean())
        if np.max(np.abs(updated - strength)) < tolerance:
            strength = updated
            break
        strength = updated
    logs = np.log(strength)
    return logs - logs.mean()


def rank_variants(
    votes: Sequence[tuple[int, int | None]],
    variant_count: int,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> list[VariantRank]:
    """Variants ranked strongest first from (winner, loser-or-None) votes, with intervals."""
    pairs = expand_votes(votes, variant_count)
    strengths = bradley_terry_strengths(pairs, variant_count)
    low = high = strengths
    if pairs and rounds:
        rng = np.random.default_rng(seed)
        samples = np.empty((rounds, variant_count))
        array = np.asarray(pairs)
        for index in range(rounds):
            drawn = array[rng.integers(0, len(array), len(array))]
            samples[index] = bradley_terry_strengths([tuple(p) for p in drawn], variant_count)
        tail = (1 - CONFIDENCE) / 2 * 100
        low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    wins = np.zeros(variant_count, dtype=int)
    losses = np.zeros(variant_count, dtype=int)
    for winner, loser in pairs:
        wins[winner] += 1
        losses[loser] += 1
    ranks = [
        VariantRank(
            i, float(strengths[i]), float(low[i]), float(high[i]), int(wins[i]), int(losses[i])
        )
        for i in range(variant_count)
    ]
    return sorted(ranks, key=lambda r: (-r.strength, r.variant))


def paired_difference(
    values: Sequence[float],
    reference: Sequence[float],
    rounds: int = 2000,
    seed: int = 0,
) -> PairedDifference:
    """Mean of `values[i] - reference[i]` with a percentile bootstrap interval over the pairs."""
    if len(values) != len(reference):
        raise ValueError("Paired values need the same number of items.")
    differences = np.asarray(values, dtype=float) - np.asarray(reference, dtype=float)
    if differences.size == 0:
        return PairedDifference(float("nan"), float("nan"), float("nan"), 0)
    mean = float(differences.mean())
    if differences.size == 1:
        return PairedDifference(mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, differences.size, (rounds, differences.size))
    means = differences[draws].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return PairedDifference(mean, float(low), float(high), int(differences.size))
