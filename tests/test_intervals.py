"""Intervals against published worked examples, and their coverage by simulation."""

import math

import numpy as np
import pytest

from qml_ops.intervals import (
    accuracy_interval, paired_difference_interval, sim2real_gap_interval, wilson_interval, z_value,
)


@pytest.mark.parametrize("k, n, low, high", [
    # Newcombe (1998a), Statistics in Medicine 17:857-872, Table II, method 3 (score, no continuity correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombes_worked_examples(k, n, low, high):
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=6e-5)


@pytest.mark.parametrize("table, estimate, low, high", [
    # Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables" (2017), ch. 8: complete response
    # before/after consolidation therapy (Cavo et al. 2012), Newcombe square-and-add interval
    ((59, 6, 16, 80), -0.0621, -0.1186, -0.0046),
])
def test_paired_difference_matches_published_example(table, estimate, low, high):
    got = paired_difference_interval(*table)
    assert (got.estimate, got.low, got.high) == pytest.approx((estimate, low, high), abs=6e-5)


def test_intervals_contain_their_point_and_stay_in_range():
    for k in range(0, 49):
        low, high = wilson_interval(k, 48)
        assert 0.0 <= low <= k / 48 <= high <= 1.0
    gap = paired_difference_interval(48, 0, 0, 0)  # every sample right on both
    assert gap.estimate == 0 and gap.low < 0 < gap.high
    # 48 samples cannot show a gap below 3 points with 95 % confidence
    assert gap.high > 0.03


def test_z_value_and_bad_input():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        z_value(1.0)
    with pytest.raises(ValueError, match="successes must be <= n"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="n must be at least 1"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="non-negative integer"):
        wilson_interval(-1, 4)
    with pytest.raises(ValueError, match="paired"):
        sim2real_gap_interval(np.ones(3, bool), np.ones(4, bool))


def test_sim2real_gap_counts_the_paired_table():
    sim = np.array([1, 1, 1, 1, 0, 1], bool)
    dev = np.array([1, 0, 1, 1, 0, 0], bool)
    gap = sim2real_gap_interval(sim, dev)
    assert gap.estimate == pytest.approx(5 / 6 - 3 / 6)
    assert gap == paired_difference_interval(3, 2, 0, 1)
    acc = accuracy_interval(dev)
    assert acc.estimate == 0.5 and acc.contains(0.5)


@pytest.mark.parametrize("n", [48, 100])
@pytest.mark.parametrize("p", [0.5, 0.75, 0.9, 0.97])
def test_wilson_covers_at_nominal_rate(n, p):
    rng = np.random.default_rng(1234)
    draws = rng.binomial(n, p, size=4000)
    bounds = {k: wilson_interval(int(k), n) for k in np.unique(draws)}
    covered = np.mean([bounds[k][0] <= p <= bounds[k][1] for k in draws])
    assert covered >= 0.93, f"Wilson coverage {covered:.3f} at n={n}, p={p}"


@pytest.mark.parametrize("n", [48, 100])
@pytest.mark.parametrize("p_sim, p_dev, agreement", [
    (0.98, 0.95, 0.95),   # a good device: few discordant samples
    (0.95, 0.85, 0.88),   # a noisy device
    (0.9, 0.9, 0.85),     # no gap, some disagreement both ways
    (0.8, 0.7, 0.8),
])
def test_paired_gap_covers_at_nominal_rate(n, p_sim, p_dev, agreement):
    """Draw paired outcomes with the given marginals and agreement rate; count how often the interval
    holds the true gap p_sim - p_dev."""
    # cell probabilities: both right, sim only, device only, neither
    first_only = (1 - agreement + p_sim - p_dev) / 2
    second_only = (1 - agreement - p_sim + p_dev) / 2
    both = p_sim - first_only
    neither = 1 - both - first_only - second_only
    cells = np.array([both, first_only, second_only, neither])
    assert np.all(cells >= 0) and math.isclose(cells.sum(), 1.0)
    rng = np.random.default_rng(99)
    tables = rng.multinomial(n, cells, size=4000)
    truth = p_sim - p_dev
    covered = np.mean([paired_difference_interval(*map(int, t)).contains(truth) for t in tables])
    assert covered >= 0.93, f"Newcombe paired coverage {covered:.3f} for n={n}, cells={cells.round(3)}"
