"""The spend gate: no QPU task is created unless its cost was estimated, fits the
budget and was approved.

A task may be created only if ``mode == "qpu"`` AND estimate <= max budget AND
approval >= estimate. Amounts are compared as :class:`~decimal.Decimal` cents,
rounded against spending: the estimate up to the cent, the budget and the
approval down (after dropping float noise below a micro-dollar). A missing
(``None``) budget or approval, or a non-finite or negative amount, means
"not allowed".

Example:
    >>> from qml_ops.hardware.gate import check_spend
    >>> check_spend("qpu", 50.04, 50.00, 60).reason
    'estimate $50.04 exceeds hardware.max_budget_usd $50.00'
    >>> check_spend("qpu", 50.04, 60, 50.04).allowed
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

from qml_ops.errors import BudgetError

QPU_MODE = "qpu"
_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class GateDecision:
    """Outcome of :func:`check_spend`; ``reason`` always states the figures."""

    allowed: bool
    reason: str

    def raise_if_denied(self) -> None:
        """Raise :class:`~qml_ops.errors.BudgetError` with the reason unless allowed."""
        if not self.allowed:
            raise BudgetError(f"hardware spend not allowed: {self.reason}")


def _cents(value: object, rounding: str) -> Decimal | None:
    """``value`` as Decimal cents, or None if it is not a finite number >= 0."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    # drop binary-float noise (0.1 + 0.2) below a micro-dollar, then round to cents
    amount = amount.quantize(_MICRO, rounding=ROUND_HALF_UP)
    return amount.quantize(_CENT, rounding=rounding)


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


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
    estimate = _cents(estimate_usd, ROUND_CEILING)
    if estimate is None:
        return GateDecision(
            False, f"no valid cost estimate (got {estimate_usd!r}); estimate first"
        )
    budget = _cents(max_budget_usd, ROUND_FLOOR)
    if budget is None:
        return GateDecision(
            False,
            f"hardware.max_budget_usd is not set to an amount >= 0 (got {max_budget_usd!r}); "
            f"the estimate is {_usd(estimate)}",
        )
    if estimate > budget:
        return GateDecision(
            False, f"estimate {_usd(estimate)} exceeds hardware.max_budget_usd {_usd(budget)}"
        )
    approval = _cents(approve_usd, ROUND_FLOOR)
    if approval is None:
        return GateDecision(
            False,
            f"not approved (hardware.approve_usd = {approve_usd!r}): approve at least the estimate "
            f"{_usd(estimate)}, e.g. hardware.approve_usd: {estimate}",
        )
    if approval < estimate:
        return GateDecision(
            False,
            f"hardware.approve_usd {_usd(approval)} is below the estimate {_usd(estimate)}: "
            f"approve at least {estimate} to spend it",
        )
    return GateDecision(
        True,
        f"estimate {_usd(estimate)} is within hardware.max_budget_usd {_usd(budget)} "
        f"and approved up to {_usd(approval)}",
    )
