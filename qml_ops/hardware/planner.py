"""The cheapest QPU run that measures the accuracy to ±W: test samples × shots per sample.

A hardware run's accuracy is a proportion over ``n`` test samples, and each
sample's prediction is the sign of ⟨Z⟩ estimated from ``s`` shots. The plan
picks ``(n, s)`` for each device at the least cost under this model:

* **Shot misreads.** A sample whose exact ⟨Z⟩ (the model's simulator on the
  test split) is ``z`` reads outcome 1 with probability ``q = (1 - z) / 2`` per
  shot; with ``s`` shots the prediction flips (``#1 > s/2`` against the sign of
  ``z``) with the binomial tail probability ``r(z, s)``. Samples far from the
  decision boundary (``|z|`` large) are almost never misread even at a few
  shots; the expected misread fraction is ``ε(s) = mean r(z_i, s)``.
* **Half-width.** The expected accuracy at ``s`` shots is
  ``p_s = mean(c_i (1 - r_i) + (1 - c_i) r_i)`` (``c_i``: the simulator is
  right on sample ``i``). The run resolves the accuracy to
  ``h(n, s) = Wilson half-width(p_s, n) + ε(s)``: the Wilson score interval's
  half-width at ``p_s`` on ``n`` samples (:func:`qml_ops.intervals.wilson_halfwidth`)
  plus the shot misreads' bias bound (``|p_s - p_exact| <= ε(s)``). The Sim2Real
  gap's half-width is Newcombe's paired interval at the expected paired counts
  (misreads are the discordant samples); ``require_gap`` bounds it too.
* **Cost.** ``tasks × per-task fee + n × s × per-shot price``
  (:func:`qml_ops.cost.estimate`: program sets of at most 100 executables and
  200,000 shots, and no more than the device's shots maximum; several program
  sets where needed; https://aws.amazon.com/braket/pricing/). For each ``s`` in
  the device's shots range the least ``n`` with ``h(n, s) <= W`` is found
  (``h`` falls with ``n``), and the cheapest ``(n, s)`` wins (ties: fewer
  samples, then fewer shots). ``n`` never exceeds the test split: when even the
  whole split cannot reach ``W`` the plan says so (:class:`TestSplitTooSmallError`).
* **Budget.** With a budget the plan is the cheapest one reaching ``W`` if it
  fits, else the one with the smallest half-width the budget buys
  (``meets_target`` false); a budget below the cheapest possible run (one sample
  at the device's fewest shots) is an error.

The expected QPU time is the estimate's (``n`` × the device's observed time per
inference in the reference case study). The model ignores device noise beyond
shot noise: margins from the emulated device would shrink ``|z|`` (more shots).

Example:
    >>> import numpy as np
    >>> from qml_ops.hardware.devices import get_device
    >>> margins = TestMargins(z=np.linspace(-0.8, 0.8, 100), y=(np.linspace(-0.8, 0.8, 100) < 0).astype(int))
    >>> plan = plan_device(get_device("iqm-garnet"), margins, halfwidth=0.1)
    >>> plan.n_samples <= 100 and plan.halfwidth <= 0.1
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

import numpy as np
from scipy.stats import binom

from qml_ops.cost import Estimate, estimate
from qml_ops.errors import ConfigError
from qml_ops.hardware.devices import PROGRAM_SET_MAX_EXECUTABLES, Device
from qml_ops.intervals import paired_difference_interval, wilson_halfwidth, z_value
from qml_ops.money import to_cents

__all__ = ["PlanError", "TestSplitTooSmallError", "TestMargins", "Plan", "plan_device", "plan_devices",
           "plan_run", "achieved", "pareto_front", "cost_curve", "check_halfwidth"]

#: A misread fraction below this is zero for planning (more shots buy nothing).
NEGLIGIBLE_MISREAD = 1e-12


class PlanError(ConfigError):
    """A plan cannot be made as asked (half-width, budget, executables out of range)."""


class TestSplitTooSmallError(PlanError):
    """Even every test sample cannot resolve the accuracy to the target half-width."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True)
class TestMargins:
    """The model's exact ⟨Z⟩ per test sample and the labels (class 1 where ⟨Z⟩ < 0)."""

    __test__ = False  # not a pytest class

    z: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        z, y = np.asarray(self.z, dtype=float), np.asarray(self.y).astype(np.int64)
        if z.ndim != 1 or z.shape != y.shape or z.size == 0:
            raise PlanError(f"margins and labels must be two equally long, non-empty vectors; got shapes "
                            f"{z.shape} and {y.shape}")
        object.__setattr__(self, "z", np.clip(z, -1.0, 1.0))
        object.__setattr__(self, "y", y)

    @property
    def n(self) -> int:
        return int(self.z.size)

    @property
    def correct(self) -> np.ndarray:
        """Where the exact (shot-free) prediction is right."""
        return (self.z < 0).astype(np.int64) == self.y

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    def misread(self, shots: int) -> np.ndarray:
        """Per-sample probability that ``shots`` shots predict the other class than the exact ⟨Z⟩.

        The prediction is class 1 when more than half the shots read 1 (⟨Z⟩ < 0, as
        :func:`qml_ops.hardware.validation.compare` reads counts); ``shots = 0`` is exact.
        """
        if shots == 0:
            return np.zeros_like(self.z)
        ones_win = binom.sf(shots // 2, shots, (1.0 - self.z) / 2.0)  # P(#1 > shots/2)
        return np.where(self.z < 0, 1.0 - ones_win, ones_win)


@dataclass(frozen=True)
class Plan:
    """One device's run: ``n_samples`` × ``shots``, its estimate and what it resolves."""

    device: str
    n_samples: int
    shots: int
    estimate: Estimate
    halfwidth: float
    accuracy_halfwidth: float
    misread_fraction: float
    expected_accuracy: float
    gap_halfwidth: float
    target_halfwidth: float
    confidence: float
    meets_target: bool
    test_samples: int
    budget_usd: Decimal | None = None

    @property
    def cost_usd(self) -> Decimal:
        return self.estimate.cost_usd

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (USD as numbers; ``expected_qpu_time_s`` null without a basis)."""
        e = self.estimate
        return {
            "device": self.device, "n_samples": self.n_samples, "shots": self.shots, "tasks": e.tasks,
            "executables_per_task": e.executables_per_task, "program_sets": e.program_sets,
            "shots_total": e.shots_total, "cost_usd": float(e.cost_usd),
            "expected_qpu_time_s": e.expected_latency_s, "halfwidth": round(self.halfwidth, 6),
            "accuracy_halfwidth": round(self.accuracy_halfwidth, 6),
            "misread_fraction": round(self.misread_fraction, 8),
            "gap_halfwidth": round(self.gap_halfwidth, 6), "expected_accuracy": round(self.expected_accuracy, 6),
            "target_halfwidth": self.target_halfwidth, "confidence": self.confidence,
            "meets_target": self.meets_target, "test_samples": self.test_samples,
            "budget_usd": None if self.budget_usd is None else float(self.budget_usd),
        }


@dataclass(frozen=True)
class _Resolution:
    """What ``n`` samples × ``s`` shots resolve."""

    halfwidth: float
    accuracy_halfwidth: float
    misread_fraction: float
    expected_accuracy: float
    gap_halfwidth: float


def check_halfwidth(halfwidth: Any) -> float:
    """Raise :class:`PlanError` unless ``0 < halfwidth < 0.5``."""
    if isinstance(halfwidth, bool) or not isinstance(halfwidth, (int, float)) or not 0 < halfwidth < 0.5:
        raise PlanError(f"target half-width = {halfwidth!r}: allowed 0 < half-width < 0.5 "
                        "(an accuracy interval is at most 1 wide)")
    return float(halfwidth)


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise PlanError(f"confidence = {confidence!r}: allowed 0 < confidence < 1 (e.g. 0.95)")
    return float(confidence)


def _paired_counts(n: int, weights: Sequence[float]) -> list[int]:
    """Round ``n × weights`` (summing to 1) to integers that sum to ``n`` (largest remainder)."""
    raw = [n * w for w in weights]
    counts = [math.floor(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _resolution(margins: TestMargins, n: int, misread: np.ndarray, confidence: float) -> _Resolution:
    c = margins.correct.astype(float)
    eps = float(misread.mean())
    p_s = float(np.mean(c * (1 - misread) + (1 - c) * misread))
    wilson = wilson_halfwidth(min(1.0, max(0.0, p_s)), n, confidence)
    weights = [float(np.mean(c * (1 - misread))), float(np.mean(c * misread)),
               float(np.mean((1 - c) * misread)), float(np.mean((1 - c) * (1 - misread)))]
    gap = paired_difference_interval(*_paired_counts(n, weights), confidence=confidence).halfwidth
    eps = 0.0 if eps < NEGLIGIBLE_MISREAD else eps
    return _Resolution(wilson + eps, wilson, eps, p_s, gap)


def achieved(margins: TestMargins, n_samples: int, shots: int, confidence: float = 0.95) -> float:
    """The half-width ``n_samples`` × ``shots`` resolve (Wilson half-width + misread fraction).

    Example: the seed's configuration, 48 samples × 512 shots, is ``achieved(m, 48, 512)``.
    """
    return _resolution(margins, n_samples, margins.misread(shots), confidence).halfwidth


def _executables_cap(device: Device, max_executables: int | None, one_task_per_inference: bool) -> int | None:
    if max_executables is None:
        return None
    allowed = PROGRAM_SET_MAX_EXECUTABLES if device.supports_program_sets and not one_task_per_inference else 1
    if isinstance(max_executables, bool) or not isinstance(max_executables, int) or not 1 <= max_executables <= allowed:
        why = ("program sets of at most 100 executables" if allowed > 1 else
               "no program sets" if not device.supports_program_sets else "one task per inference")
        raise PlanError(f"max executables per task = {max_executables!r} for device {device.id!r}: allowed "
                        f"1–{allowed} ({device.name}: {why})")
    return max_executables


def _estimate(device: Device, n: int, shots: int, one_task: bool, cap: int | None) -> Estimate:
    e = estimate(device, n, shots, one_task_per_inference=one_task)
    if cap is None or e.executables_per_task <= cap:
        return e
    tasks = math.ceil(n / cap)
    cost = tasks * device.price_per_task_usd + n * shots * device.price_per_shot_usd
    return dataclasses.replace(e, tasks=tasks, executables_per_task=cap, program_sets=cap > 1,
                               cost_usd=to_cents(cost))


def _least_samples(margins: TestMargins, misread: np.ndarray, halfwidth: float, confidence: float,
                   require_gap: bool) -> int | None:
    """The least ``n`` (<= the test split) whose resolution meets ``halfwidth``, or None."""
    def ok(n: int) -> bool:
        r = _resolution(margins, n, misread, confidence)
        return r.halfwidth <= halfwidth and (not require_gap or r.gap_halfwidth <= halfwidth)

    if not ok(margins.n):
        return None
    low, high = 1, margins.n  # ok(high); find the least ok n (resolution falls with n)
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _shots_range(devices: Sequence[Device]) -> tuple[int, int]:
    low = max(d.min_shots for d in devices)
    highs = [d.max_shots for d in devices if d.max_shots is not None]
    high = min(highs) if highs else max(low, 0)
    if low > high:
        raise PlanError("the devices' shots ranges do not overlap: "
                        + ", ".join(f"{d.id} {d.shots_range_text}" for d in devices))
    return low, high


def _floor_samples(halfwidth: float, confidence: float) -> int:
    """No run resolves ``halfwidth`` with fewer samples (the Wilson half-width at p = 0 or 1)."""
    z2 = z_value(confidence) ** 2
    return max(1, math.ceil(z2 / (2 * halfwidth) - z2))


def plan_run(devices: Sequence[Device], margins: TestMargins, halfwidth: float, confidence: float = 0.95,
             one_task_per_inference: bool = False, max_executables: int | None = None,
             require_gap: bool = False) -> list[Plan]:
    """The cheapest common ``(n, s)`` for all ``devices`` together (the hardware stage runs one
    ``n_samples`` × ``shots`` on every device): least total cost with ``h(n, s) <= halfwidth``.

    Raises:
        PlanError: bad half-width, confidence or executables; shots ranges that do not overlap.
        TestSplitTooSmallError: even the whole test split cannot reach ``halfwidth``.
    """
    halfwidth, confidence = check_halfwidth(halfwidth), _check_confidence(confidence)
    caps = [_executables_cap(d, max_executables, one_task_per_inference) for d in devices]
    s_low, s_high = _shots_range(devices)
    floor_n = min(_floor_samples(halfwidth, confidence), margins.n)
    fees = sum((d.price_per_task_usd for d in devices), Decimal(0))
    per_shot = sum((d.price_per_shot_usd for d in devices), Decimal(0))
    best: tuple | None = None
    best_misread: np.ndarray | None = None
    for shots in range(s_low, s_high + 1):
        if best is not None and fees + floor_n * shots * per_shot > best[0]:
            break  # every later shots count costs more than the best plan, whatever n
        misread = margins.misread(shots)
        n = _least_samples(margins, misread, halfwidth, confidence, require_gap)
        if n is not None:
            cost = sum((_estimate(d, n, shots, one_task_per_inference, cap).cost_usd
                        for d, cap in zip(devices, caps)), Decimal(0))
            if best is None or (cost, n, shots) < best:
                best, best_misread = (cost, n, shots), misread
        if per_shot == 0 and float(misread.mean()) < NEGLIGIBLE_MISREAD:
            break  # free shots and nothing left to gain
    if best is None:
        smallest = achieved(margins, margins.n, s_high if s_high else 0, confidence)
        raise TestSplitTooSmallError(
            f"target half-width = {halfwidth}: the test split has only {margins.n} samples, which resolve the "
            f"accuracy (predicted {margins.accuracy:.3f}) to ±{smallest:.4f} at best at {confidence:.0%} "
            f"confidence{' (and the gap too)' if require_gap else ''}; allowed: half-width >= {smallest:.4f}, "
            "or a larger test split (prepare.split)")
    _, n, shots = best
    return [_plan(d, margins, n, shots, best_misread, halfwidth, confidence, one_task_per_inference, cap, None)
            for d, cap in zip(devices, caps)]


def _plan(device: Device, margins: TestMargins, n: int, shots: int, misread: np.ndarray, halfwidth: float,
          confidence: float, one_task: bool, cap: int | None, budget: Decimal | None) -> Plan:
    r = _resolution(margins, n, misread, confidence)
    return Plan(device=device.id, n_samples=n, shots=shots, estimate=_estimate(device, n, shots, one_task, cap),
                halfwidth=r.halfwidth, accuracy_halfwidth=r.accuracy_halfwidth, misread_fraction=r.misread_fraction,
                expected_accuracy=r.expected_accuracy, gap_halfwidth=r.gap_halfwidth, target_halfwidth=halfwidth,
                confidence=confidence, meets_target=r.halfwidth <= halfwidth, test_samples=margins.n,
                budget_usd=budget)


def _budget(device: Device, budget: Any, one_task: bool, cap: int | None) -> Decimal | None:
    if budget is None:
        return None
    try:
        value = Decimal(str(budget))
    except ArithmeticError:
        value = Decimal("NaN")
    cheapest = _estimate(device, 1, max(device.min_shots, 1) if device.max_shots != 0 else 0, one_task, cap).cost_usd
    if not value.is_finite() or value < cheapest:
        raise PlanError(f"budget = {budget!r} USD for device {device.id!r}: allowed >= ${cheapest} (the cheapest "
                        f"possible run: one sample at {max(device.min_shots, 1)} shots)")
    return value


def plan_device(device: Device, margins: TestMargins, halfwidth: float, confidence: float = 0.95,
                budget: Any = None, one_task_per_inference: bool = False, max_executables: int | None = None,
                require_gap: bool = False) -> Plan:
    """The cheapest ``n`` × ``s`` on ``device`` that resolve the accuracy to ±``halfwidth``.

    Args:
        device: a catalogue entry (prices as overridden).
        margins: the model's exact ⟨Z⟩ and labels on the test split.
        halfwidth: the target half-width, ``0 < W < 0.5``.
        confidence: the intervals' two-sided level.
        budget: USD; when the target plan costs more, the most precise plan within it
            (``meets_target`` false).
        one_task_per_inference: no program sets (one task and fee per sample).
        max_executables: at most this many samples per program set (1–100; 1 without program sets).
        require_gap: the Sim2Real gap's predicted half-width must meet ``halfwidth`` too.

    Raises:
        PlanError: half-width, confidence, budget or executables out of range.
        TestSplitTooSmallError: the test split cannot reach ``halfwidth`` (without a budget).
    """
    cap = _executables_cap(device, max_executables, one_task_per_inference)
    limit = _budget(device, budget, one_task_per_inference, cap)
    try:
        plan = plan_run([device], margins, halfwidth, confidence, one_task_per_inference, max_executables,
                        require_gap)[0]
    except TestSplitTooSmallError:
        if limit is None:
            raise
        plan = None
    if limit is None:
        return plan
    if plan is not None and plan.cost_usd <= limit:
        return dataclasses.replace(plan, budget_usd=limit)
    return _most_precise(device, margins, halfwidth, confidence, limit, one_task_per_inference, cap, require_gap)


def _most_precise(device: Device, margins: TestMargins, halfwidth: float, confidence: float, budget: Decimal,
                  one_task: bool, cap: int | None, require_gap: bool) -> Plan:
    """The plan with the smallest half-width whose cost is within ``budget``."""
    s_low, s_high = _shots_range([device])
    best: tuple | None = None
    for shots in range(s_low, s_high + 1):
        if _estimate(device, 1, shots, one_task, cap).cost_usd > budget:
            break
        low, high = 1, margins.n  # the most samples the budget buys at these shots (cost rises with n)
        while low < high:
            mid = (low + high + 1) // 2
            if _estimate(device, mid, shots, one_task, cap).cost_usd <= budget:
                low = mid
            else:
                high = mid - 1
        misread = margins.misread(shots)
        r = _resolution(margins, low, misread, confidence)
        width = max(r.halfwidth, r.gap_halfwidth) if require_gap else r.halfwidth
        key = (round(width, 12), _estimate(device, low, shots, one_task, cap).cost_usd, low, shots)
        if best is None or key < best[0]:
            best = (key, low, shots, misread)
        if float(misread.mean()) < NEGLIGIBLE_MISREAD and low == margins.n:
            break  # more shots resolve nothing more
    _, n, shots, misread = best
    return _plan(device, margins, n, shots, misread, halfwidth, confidence, one_task, cap, budget)


def plan_devices(devices: Sequence[Device], margins: TestMargins, halfwidth: float, **options: Any) -> list[Plan]:
    """:func:`plan_device` for each device (each its own cheapest plan)."""
    return [plan_device(d, margins, halfwidth, **options) for d in devices]


def pareto_front(plans: Sequence[Plan]) -> list[bool]:
    """Which plans no other plan beats on cost, half-width and expected QPU time together."""
    def key(p: Plan) -> tuple[float, float, float]:
        t = p.estimate.expected_latency_s
        return float(p.cost_usd), p.halfwidth, math.inf if t is None else t

    keys = [key(p) for p in plans]
    return [not any(all(o <= k for o, k in zip(other, mine)) and other != mine for other in keys)
            for mine in keys]


def cost_curve(device: Device, margins: TestMargins, widths: Sequence[float], **options: Any) -> list[Plan | None]:
    """The plan for each target half-width in ``widths`` (None where the test split is too small)."""
    out: list[Plan | None] = []
    for w in widths:
        try:
            out.append(plan_device(device, margins, w, **options))
        except TestSplitTooSmallError:
            out.append(None)
    return out


# ---------------------------------------------------------------- adapters (MLflow, params)


def registered_model_margins(params: Any) -> TestMargins:
    """The registered model's (``hardware.model_alias``) exact ⟨Z⟩ on the whole test split."""
    import tempfile
    from pathlib import Path

    from qml_ops import tracking
    from qml_ops.hardware.reporting import load_model
    from qml_ops.training_data import load_prepared

    tracking.configure(params.tracking.experiment)
    with tempfile.TemporaryDirectory() as tmp:
        _, model, encoder = load_model(params, Path(tmp))
    X_raw, y = load_prepared("test")
    return TestMargins(z=model.expval(encoder.transform(X_raw)), y=y)


def apply_plan(params: Any, margins: TestMargins | None = None, progress=print) -> Any:
    """``hardware.plan: auto``: ``params`` with ``hardware.n_samples`` and ``hardware.shots`` set to
    the cheapest common plan for ``hardware.devices`` at ``hardware.plan_halfwidth``; unchanged
    when ``hardware.plan`` is ``off``. Every spend check then prices this run as usual.
    """
    hw = params.hardware
    if getattr(hw, "plan", "off") != "auto":
        return params
    from qml_ops.hardware.validation import device_for

    margins = registered_model_margins(params) if margins is None else margins
    devices = [device_for(hw, d) for d in hw.devices]
    plans = plan_run(devices, margins, hw.plan_halfwidth, one_task_per_inference=hw.one_task_per_inference)
    n, shots = plans[0].n_samples, plans[0].shots
    progress(f"hardware: plan auto: {n} samples x {shots} shots resolve the accuracy to ±{plans[0].halfwidth:.4f} "
             f"(target ±{hw.plan_halfwidth}, predicted accuracy {plans[0].expected_accuracy:.3f}, "
             f"{margins.n} test samples); replaces hardware.n_samples={hw.n_samples}, shots={hw.shots}")
    new_hw = hw.model_copy(update={"n_samples": n, "shots": shots})
    return params.model_copy(update={"hardware": new_hw})
