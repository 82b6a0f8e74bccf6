"""The promotion gate on intervals: pass, fail, inconclusive (qml_ops.hardware.verdict)."""

import numpy as np
import pytest

from qml_ops.hardware.verdict import FAIL, INCONCLUSIVE, PASS, GateLimits, judge_intervals, judge_metrics
from qml_ops.intervals import Interval, accuracy_interval, sim2real_gap_interval

LIMITS = GateLimits(max_gap=0.1, min_accuracy=0.9, max_cost_per_inference_usd=2.0)


def outcomes(n: int, lost: int) -> tuple[Interval, Interval]:
    """A device that gets ``lost`` of ``n`` samples wrong where the simulator gets all right."""
    sim = np.ones(n, dtype=bool)
    dev = sim.copy()
    dev[:lost] = False
    return accuracy_interval(dev), sim2real_gap_interval(sim, dev)


@pytest.mark.parametrize("lost, expected", [(0, PASS), (1, PASS), (2, PASS), (3, INCONCLUSIVE), (8, INCONCLUSIVE),
                                            (30, FAIL)])
def test_verdict_on_72_samples_follows_the_intervals(lost, expected):
    accuracy, gap = outcomes(72, lost)
    v = judge_intervals(LIMITS, accuracy, gap, cost_per_inference_usd=0.01)
    assert v.outcome == expected
    assert v.promotes == (expected == PASS)
    assert (v.reasons == ()) == (expected == PASS)
    assert v.summary.startswith(expected)


def test_the_old_default_max_gap_can_never_pass_on_48_samples():
    accuracy, gap = outcomes(48, 0)  # every sample right on both: the gap interval is still about +-0.074
    assert gap.high == pytest.approx(0.0741, abs=1e-4)
    v = judge_intervals(GateLimits(0.05, 0.9, 2.0), accuracy, gap, 0.01)
    assert v.outcome == INCONCLUSIVE and "straddles max_gap 0.05" in v.reasons[0]


def test_each_check_can_fail_or_straddle_on_its_own():
    good_acc, good_gap = Interval(0.99, 0.95, 1.0), Interval(0.0, -0.02, 0.05)
    # accuracy: whole interval below, or straddling
    assert judge_intervals(LIMITS, Interval(0.6, 0.5, 0.7), good_gap, 0.01).outcome == FAIL
    v = judge_intervals(LIMITS, Interval(0.92, 0.85, 0.97), good_gap, 0.01)
    assert v.outcome == INCONCLUSIVE and "straddles min_accuracy 0.9" in v.reasons[0]
    # gap: whole interval above, or straddling
    v = judge_intervals(LIMITS, good_acc, Interval(0.3, 0.2, 0.4), 0.01)
    assert v.outcome == FAIL and "the whole 95% interval [+0.2000, +0.4000] is above it" in v.reasons[0]
    assert judge_intervals(LIMITS, good_acc, Interval(0.05, -0.01, 0.12), 0.01).outcome == INCONCLUSIVE
    # cost: a computed figure, no interval
    v = judge_intervals(LIMITS, good_acc, good_gap, 2.5)
    assert v.outcome == FAIL and v.reasons == ("cost_per_inference_usd 2.5000 > max_cost_per_inference_usd 2.0",)
    # bounds exactly on the threshold pass (>= and <=)
    assert judge_intervals(LIMITS, Interval(0.95, 0.9, 1.0), Interval(0.0, -0.1, 0.1), 2.0).outcome == PASS


def test_a_failure_outranks_an_inconclusive_check_and_both_are_reported():
    v = judge_intervals(LIMITS, Interval(0.92, 0.85, 0.97), good_gap := Interval(0.0, -0.02, 0.05), 5.0)
    assert good_gap.high < LIMITS.max_gap
    assert v.outcome == FAIL and len(v.reasons) == 2 and "cost_per_inference_usd" in v.reasons[0]


def test_judge_metrics_reads_the_interval_keys_and_falls_back_to_point_values():
    metrics = {"accuracy": 0.95, "accuracy_ci_low": 0.85, "accuracy_ci_high": 0.99, "sim2real_gap": 0.0,
               "sim2real_gap_ci_low": -0.05, "sim2real_gap_ci_high": 0.05, "cost_per_inference_usd": 0.1}
    assert judge_metrics(LIMITS, metrics).outcome == INCONCLUSIVE
    point = {k: v for k, v in metrics.items() if "_ci_" not in k}
    assert judge_metrics(LIMITS, point).outcome == PASS
