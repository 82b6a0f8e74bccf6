"""The spend gate: no QPU task is created unless its cost was estimated, fits the
budget and was approved.

A task may be created only if ``mode == "qpu"`` AND estimate <= max budget AND
approval >= estimate. Amounts are compared as :class:`~decimal.Decimal` cents,
rounded against spending: the estimate up to the cent, the budget and the
approval down (after dropping float noise below a micro-dollar; see
:mod:`qml_ops.money`). A missing (``None``) budget or approval, or a non-finite
or negative amount, means "not allowed".

Example:
    >>> from qml_ops.hardware.gate import check_spend
    >>> check_spend("qpu", 50.04, 50.00, 60).reason
    'estimate $50.04 exceeds hardware.max_budget_usd $50.00'
    >>> check_spend("qpu", 50.04, 60, 50.04).allowed
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qml_ops.errors import BudgetError
from qml_ops.money import Rounding, parse_usd, to_cents, usd

QPU_MODE = "qpu"


@dataclass(frozen=True)
class GateDecision:
    """Outcome of :func:`check_spend`; ``reason`` always states the figures."""

    allowed: bool
    reason: str

    def raise_if_denied(self) -> None:
        """Raise :class:`~qml_ops.errors.BudgetError` with the reason unless allowed."""
        if not self.allowed:
            raise BudgetError(f"hardware spend not allowed: {self.reason}")


def _cents(value: object, rounding: Rounding) -> Decimal | None:
    """``value`` as Decimal cents rounded ``rounding``, or None if it is not an amount >= 0."""
    amount = parse_usd(value)
    return None if amount is None else to_cents(amount, rounding)


def check_spend(
    mode: str,
    estimate_usd: object,
    max_budget_usd: object,
    approve_usd: object,
) -> GateDecision:
    """Decide whether a hardware spend of ``estimate_usd`` may go ahead.

    Args:
        mode: the run mode (``hardware.mode``); only ``"qpu"`` may spend.
        estimate_usd: the cost estimate shown to the user (USD).
        max_budget_usd: ``hardware.max_budget_usd`` from params, or None.
        approve_usd: the amount the user approved (``hardware.approve_usd``), or None.

    Returns:
        GateDecision: ``allowed`` and a reason naming the figures.
    """
    if mode != QPU_MODE:
        return GateDecision(
            False, f"mode is {mode!r}: QPU tasks are created only in mode {QPU_MODE!r}"
        )
    estimate = _cents(estimate_usd, "up")
    if estimate is None:
        return GateDecision(
            False, f"no valid cost estimate (got {estimate_usd!r}); estimate first"
        )
    budget = _cents(max_budget_usd, "down")
    if budget is None:
        return GateDecision(
            False,
            f"hardware.max_budget_usd is not set to an amount >= 0 (got {max_budget_usd!r}); "
            f"the estimate is {usd(estimate)}",
        )
    if estimate > budget:
        return GateDecision(
            False, f"estimate {usd(estimate)} exceeds hardware.max_budget_usd {usd(budget)}"
        )
    approval = _cents(approve_usd, "down")
    if approval is None:
        return GateDecision(
            False,
            f"not approved (hardware.approve_usd = {approve_usd!r}): approve at least the estimate "
            f"{usd(estimate)}, e.g. hardware.approve_usd: {estimate}",
        )
    if approval < estimate:
        return GateDecision(
            False,
            f"hardware.approve_usd {usd(approval)} is below the estimate {usd(estimate)}: "
            f"approve at least {estimate} to spend it",
        )
    return GateDecision(
        True,
        f"estimate {usd(estimate)} is within hardware.max_budget_usd {usd(budget)} "
        f"and approved up to {usd(approval)}",
    )


def check_total_budget(needed_usd: object, period_exposure_usd: object, total_budget_usd: object,
                       period: str) -> GateDecision:
    """Decide whether ``needed_usd`` more may be committed in the budget period.

    ``hardware.total_budget_usd`` caps what all QPU runs of the project may spend
    in the period (:mod:`qml_ops.hardware.billing`: what the ledger's tasks of the
    period are billed, or may still be). Rounded against spending: the exposure
    plus the need up to the cent, the budget down. Nothing needed is always allowed
    (collecting what exists is never blocked).

    Args:
        needed_usd: what is about to be created (USD).
        period_exposure_usd: the ledger's exposure in the period (USD).
        total_budget_usd: ``hardware.total_budget_usd``, or None.
        period: the period as people read it (``2026-05``).

    Example:
        >>> check_total_budget("10.00", "95.00", 100, "2026-05").reason
        'the QPU spend of 2026-05 ($95.00) plus this run ($10.00) exceeds hardware.total_budget_usd $100.00'
    """
    needed = parse_usd(needed_usd)
    exposure = parse_usd(period_exposure_usd)
    if needed is None or exposure is None:
        return GateDecision(False, f"no valid amounts to check against the total budget "
                                   f"(needed {needed_usd!r}, spent {period_exposure_usd!r})")
    if needed == 0:
        return GateDecision(True, "nothing left to create: collecting only")
    budget = _cents(total_budget_usd, "down")
    total = to_cents(exposure + needed, "up")
    if budget is None or total > budget:
        shown = "not set" if budget is None else usd(budget)
        return GateDecision(
            False,
            f"the QPU spend of {period} ({usd(to_cents(exposure, 'up'))}) plus this run "
            f"({usd(to_cents(needed, 'up'))}) exceeds hardware.total_budget_usd {shown}",
        )
    return GateDecision(True, f"the QPU spend of {period} with this run ({usd(total)}) is within "
                              f"hardware.total_budget_usd {usd(budget)}")
