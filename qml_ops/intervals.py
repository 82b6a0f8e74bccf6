"""Confidence intervals for accuracies and Sim2Real gaps (pure functions, no I/O).

An accuracy measured on ``n`` test samples is a binomial proportion; on the
48 samples of a typical QPU run one sample moves it by 2 points, so every
accuracy and every gap qml-ops reports carries an interval.

* :func:`wilson_interval`: the Wilson score interval for one proportion
  (Wilson 1927). Unlike the textbook Wald interval it keeps its coverage near
  the nominal level for small ``n`` and for proportions near 0 or 1 (where
  trained models live), and it never leaves [0, 1] (Newcombe 1998a,
  *Statistics in Medicine* 17:857-872, method 3; Brown, Cai & DasGupta 2001).
* :func:`paired_difference_interval`: the interval for the difference of two
  proportions measured on the *same* samples, e.g. the Sim2Real gap
  ``accuracy(simulator) - accuracy(device)``. The two accuracies are strongly
  correlated (most samples are right on both), so an interval for independent
  samples would be far too wide. This is Newcombe's square-and-add interval for
  paired data (Newcombe 1998b, *Statistics in Medicine* 17:2635-2650, method 10),
  which combines the two Wilson intervals with the observed correlation of the
  paired outcomes; Fagerland, Lydersen & Laake (2014, *Statistical Methods in
  Medical Research* 24:224-254) recommend it for paired proportions.

Example:
    >>> low, high = wilson_interval(81, 263)
    >>> round(low, 4), round(high, 4)
    (0.2553, 0.3662)
    >>> gap = paired_difference_interval(both=59, first_only=6, second_only=16, neither=80)
    >>> round(gap.estimate, 4), round(gap.low, 4), round(gap.high, 4)
    (-0.0621, -0.1186, -0.0046)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["Interval", "z_value", "wilson_interval", "wilson_halfwidth", "accuracy_interval", "paired_difference_interval",
           "sim2real_gap_interval"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def halfwidth(self) -> float:
        return (self.high - self.low) / 2


def z_value(confidence: float) -> float:
    """The standard normal quantile for a two-sided ``confidence`` level (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got confidence={confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not float(value).is_integer() or value < 0:
            raise ValueError(f"{name} must be a non-negative integer count, but got {name}={value!r}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion ``successes / n``.

    Args:
        successes: number of successes (e.g. correctly classified samples).
        n: number of trials (samples), ``n >= 1``.
        confidence: two-sided confidence level.

    Returns:
        ``(low, high)``, within [0, 1].

    Raises:
        ValueError: for negative or non-integer counts, ``successes > n`` or ``n == 0``.
    """
    _check_counts(successes=successes, n=n)
    if n == 0:
        raise ValueError("n must be at least 1 (an interval needs at least one sample), but got n=0")
    if successes > n:
        raise ValueError(f"successes must be <= n, but got successes={successes}, n={n}")
    z = z_value(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low, high = centre - spread, centre + spread
    # exact at the boundaries (rounding would otherwise leave 1e-17 outside)
    return (0.0 if successes == 0 else max(0.0, low)), (1.0 if successes == n else min(1.0, high))


def wilson_halfwidth(p: float, n: int, confidence: float = 0.95) -> float:
    """The half-width of the Wilson interval of :func:`wilson_interval` at an
    expected proportion ``p`` (not necessarily ``k/n``) on ``n`` samples: what
    a run of ``n`` samples can expect to resolve (used to plan runs).

    Example:
        >>> round(wilson_halfwidth(1.0, 72), 4)   # even 72 of 72 leaves ±0.025
        0.0253
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, but got n={n!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], but got p={p!r}")
    z = z_value(confidence)
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def accuracy_interval(correct: np.ndarray, confidence: float = 0.95) -> Interval:
    """Accuracy of a boolean vector of per-sample outcomes, with its Wilson interval."""
    correct = np.asarray(correct, dtype=bool)
    k, n = int(correct.sum()), int(correct.size)
    low, high = wilson_interval(k, n, confidence)
    return Interval(k / n, low, high, confidence)


def paired_difference_interval(both: int, first_only: int, second_only: int, neither: int,
                               confidence: float = 0.95) -> Interval:
    """Newcombe's interval for ``p1 - p2`` of two proportions measured on the same units.

    The paired 2×2 table counts units that succeed on both measurements
    (``both``), on the first only, on the second only, and on neither;
    ``p1 = (both + first_only) / n`` and ``p2 = (both + second_only) / n``.

    Method 10 of Newcombe (1998b): the Wilson intervals ``(l1, u1)``, ``(l2, u2)``
    of ``p1`` and ``p2`` are combined ("square and add") with the correlation
    ``φ`` of the paired outcomes::

        L = D - sqrt((p1 - l1)² - 2φ (p1 - l1)(u2 - p2) + (u2 - p2)²)
        U = D + sqrt((p2 - l2)² - 2φ (p2 - l2)(u1 - p1) + (u1 - p1)²)

    with ``D = p1 - p2`` and ``φ = (A - n/2) / sqrt(...)`` for ``A = ad - bc > n/2``,
    ``0`` for ``0 <= A <= n/2``, ``A / sqrt(...)`` for ``A < 0`` (Newcombe's
    continuity-corrected correlation), and ``0`` when a margin is empty.

    Returns:
        :class:`Interval` for ``p1 - p2`` (within [-1, 1]).
    """
    _check_counts(both=both, first_only=first_only, second_only=second_only, neither=neither)
    a, b, c, d = int(both), int(first_only), int(second_only), int(neither)
    n = a + b + c + d
    if n == 0:
        raise ValueError("the paired table is empty: an interval needs at least one sample")
    first, second = a + b, a + c
    p1, p2 = first / n, second / n
    l1, u1 = wilson_interval(first, n, confidence)
    l2, u2 = wilson_interval(second, n, confidence)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        product = a * d - b * c
        if product > n / 2:
            phi = (product - n / 2) / math.sqrt(margins)
        elif product < 0:
            phi = product / math.sqrt(margins)
    estimate = p1 - p2
    lower = estimate - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = estimate + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return Interval(estimate, max(-1.0, lower), min(1.0, upper), confidence)


def sim2real_gap_interval(sim_correct: np.ndarray, device_correct: np.ndarray,
                          confidence: float = 0.95) -> Interval:
    """The Sim2Real gap ``accuracy(simulator) - accuracy(device)`` on the same samples, with
    Newcombe's paired interval (:func:`paired_difference_interval`)."""
    sim = np.asarray(sim_correct, dtype=bool)
    dev = np.asarray(device_correct, dtype=bool)
    if sim.shape != dev.shape:
        raise ValueError(f"the simulator and device outcomes must be paired, but got shapes {sim.shape} and "
                         f"{dev.shape}")
    return paired_difference_interval(int(np.sum(sim & dev)), int(np.sum(sim & ~dev)), int(np.sum(~sim & dev)),
                                      int(np.sum(~sim & ~dev)), confidence)
