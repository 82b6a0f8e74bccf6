"""The promotion gate's verdict on one device: pass, fail or inconclusive, judged on intervals.

An accuracy measured on a few dozen samples is uncertain by several points
(:mod:`qml_ops.intervals`), so ``hardware.gate`` is applied to the 95%
intervals, not to the point values:

* **pass** when every check holds over its whole interval: the accuracy's lower
  bound is at least ``min_accuracy``, the Sim2Real gap's upper bound at most
  ``max_gap``, and the cost per inference at most ``max_cost_per_inference_usd``
  (a cost is computed, not measured: it has no interval);
* **fail** when some check fails over its whole interval (the accuracy's upper
  bound below ``min_accuracy``, the gap's lower bound above ``max_gap``, or the
  cost above its maximum);
* **inconclusive** otherwise: an interval straddles a threshold, and more
  samples (``hardware.n_samples``) are needed to decide.

Only a pass promotes the model version.

Example:
    >>> from qml_ops.intervals import Interval
    >>> v = judge_intervals(GateLimits(max_gap=0.1, min_accuracy=0.9, max_cost_per_inference_usd=2.0),
    ...                     accuracy=Interval(1.0, 0.949, 1.0), gap=Interval(0.0, -0.051, 0.051),
    ...                     cost_per_inference_usd=0.01)
    >>> v.outcome, v.promotes
    ('pass', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qml_ops.intervals import Interval

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
#: Every outcome, in the order a table sorts them.
OUTCOMES = (PASS, INCONCLUSIVE, FAIL)


@dataclass(frozen=True)
class GateLimits:
    """The thresholds of ``hardware.gate``."""

    max_gap: float
    min_accuracy: float
    max_cost_per_inference_usd: float

    @classmethod
    def from_params(cls, gate: Any) -> "GateLimits":
        return cls(float(gate.max_gap), float(gate.min_accuracy), float(gate.max_cost_per_inference_usd))


@dataclass(frozen=True)
class Verdict:
    """A device's gate outcome and why.

    Attributes:
        outcome: ``"pass"``, ``"fail"`` or ``"inconclusive"``.
        reasons: one sentence per check that failed or was inconclusive (empty on a pass).
        summary: one line for tables, runs and the model card.
    """

    outcome: str
    reasons: tuple[str, ...] = field(default_factory=tuple)
    summary: str = ""

    @property
    def promotes(self) -> bool:
        return self.outcome == PASS


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _span(interval: Interval, signed: bool = False) -> str:
    f = "{:+.4f}" if signed else "{:.4f}"
    return f"[{f.format(interval.low)}, {f.format(interval.high)}]"


def judge_intervals(limits: GateLimits, accuracy: Interval, gap: Interval,
                    cost_per_inference_usd: float) -> Verdict:
    """The gate's verdict on one device (see the module docstring).

    Args:
        limits: the thresholds.
        accuracy: the device's accuracy with its interval.
        gap: the Sim2Real gap (simulator minus device) with its paired interval.
        cost_per_inference_usd: the price of one inference on the device.
    """
    failed, unsure = [], []
    level = f"{accuracy.confidence:.0%}"
    if gap.low > limits.max_gap:
        failed.append(f"sim2real_gap {_fmt(gap.estimate)} > max_gap {limits.max_gap}: the whole {level} interval "
                      f"{_span(gap, signed=True)} is above it")
    elif gap.high > limits.max_gap:
        unsure.append(f"sim2real_gap {gap.estimate:+.4f}: its {level} interval {_span(gap, signed=True)} straddles "
                      f"max_gap {limits.max_gap}")
    if accuracy.high < limits.min_accuracy:
        failed.append(f"accuracy {_fmt(accuracy.estimate)} < min_accuracy {limits.min_accuracy}: the whole "
                      f"{level} interval {_span(accuracy)} is below it")
    elif accuracy.low < limits.min_accuracy:
        unsure.append(f"accuracy {_fmt(accuracy.estimate)}: its {level} interval {_span(accuracy)} straddles "
                      f"min_accuracy {limits.min_accuracy}")
    if cost_per_inference_usd > limits.max_cost_per_inference_usd:
        failed.append(f"cost_per_inference_usd {_fmt(cost_per_inference_usd)} > max_cost_per_inference_usd "
                      f"{limits.max_cost_per_inference_usd}")
    if failed:
        return Verdict(FAIL, tuple(failed + unsure), f"fail: {failed[0]}")
    if unsure:
        return Verdict(INCONCLUSIVE, tuple(unsure), f"inconclusive (more samples needed): {unsure[0]}")
    return Verdict(PASS, (), (
        f"pass: over the whole {level} intervals accuracy >= {limits.min_accuracy} (low {_fmt(accuracy.low)}) and "
        f"sim2real_gap <= {limits.max_gap} (high {gap.high:+.4f}); cost per inference "
        f"{_fmt(cost_per_inference_usd)} <= {limits.max_cost_per_inference_usd}"))


def judge_metrics(limits: GateLimits, metrics: dict[str, Any]) -> Verdict:
    """:func:`judge_intervals` on a device's metrics (``accuracy``, ``accuracy_ci_low``/``_high``,
    ``sim2real_gap``, ``sim2real_gap_ci_low``/``_high``, ``cost_per_inference_usd``).

    Metrics without interval bounds are judged on their point values (a degenerate interval).
    """
    acc, gap = metrics["accuracy"], metrics["sim2real_gap"]
    return judge_intervals(
        limits,
        Interval(acc, metrics.get("accuracy_ci_low", acc), metrics.get("accuracy_ci_high", acc)),
        Interval(gap, metrics.get("sim2real_gap_ci_low", gap), metrics.get("sim2real_gap_ci_high", gap)),
        metrics["cost_per_inference_usd"],
    )
