"""What a QPU task costs: committed at creation, spent (billed) once it is final.

Three figures, all exact :class:`~decimal.Decimal` sums over ledger rows:

* **committed** (:func:`committed`): the price-table cost of every task created,
  fixed when it is created (``TaskRow.cost_usd``: the per-task fee plus the
  requested shots × the per-shot price). What the estimate approved.
* **spent** (:func:`spent`): what Braket bills. For a final task it is
  :func:`billed_usd`; a task not final yet counts at its committed cost (it will
  be billed unless it fails or is cancelled; Braket's spending limits count it
  as ``queuedSpend`` too). Never more than committed.
* **exposure** (:func:`exposure`): spent, plus the committed cost of rows whose
  create was sent but not confirmed (``CREATING``: the task may exist). Budget
  checks use it, so money that may already be gone is never counted as free.

The billing rule (:data:`BILLING_RULE`) of a final task:

* ``COMPLETED``: the per-task fee + ``numSuccessfulShots`` × the per-shot
  price. If fewer shots succeed than were requested, the unused shots are not
  charged: Braket credits them back (Amazon Braket Developer Guide, "Cost
  tracking and saving", spending limits; AWS Quantum Technologies Blog, "Amazon
  Braket introduces spending limits for quantum processing units", 2025). When
  ``GetQuantumTask`` does not report ``numSuccessfulShots``, all requested shots
  are charged (as the SDK's cost tracker prices a task).
* ``FAILED`` and ``CANCELLED``: nothing (the Braket SDK's cost tracker,
  ``braket.tracking.tracker._get_qpu_task_cost``, prices failed and cancelled QPU
  tasks at $0, and a spending limit gets their whole estimate back).
* A ``CANCELLING`` task that ends ``COMPLETED`` is billed as completed.

Budget periods (``hardware.budget_period``) are calendar periods in UTC:
``month``, ``year``, or ``all`` (no period: every run the ledger holds).

Example:
    >>> from decimal import Decimal
    >>> billed_usd("COMPLETED", 90, 100, Decimal("0.30"), Decimal("0.08"), Decimal("8.30"))
    Decimal('7.50')
    >>> billed_usd("FAILED", None, 100, Decimal("0.30"), Decimal("0.08"), Decimal("8.30"))
    Decimal('0')
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable

from qml_ops.hardware.ledger import CREATING, TaskRow

__all__ = ["BILLING_RULE", "BUDGET_PERIODS", "billed_usd", "row_billed", "committed", "spent",
           "exposure", "period_window", "in_period", "describe_period"]

BILLING_RULE = (
    "COMPLETED: per-task fee + numSuccessfulShots x per-shot price (unused shots are credited; "
    "all requested shots when numSuccessfulShots is not reported); FAILED and CANCELLED: $0 "
    "(Braket SDK cost tracker; Braket spending limits return their whole estimate); "
    "a CANCELLING task that completes is billed as completed"
)

BUDGET_PERIODS = ("month", "year", "all")

_FINAL_FREE = frozenset({"FAILED", "CANCELLED"})


def billed_usd(state: str, num_successful_shots: int | None, shots_total: int,
               price_per_task: Decimal | None, price_per_shot: Decimal | None,
               committed_usd: Decimal) -> Decimal | None:
    """What Braket bills for one created task in ``state``; ``None`` while it is not final.

    Args:
        state: the Braket task state.
        num_successful_shots: ``GetQuantumTask``'s ``numSuccessfulShots`` (``None``
            if not reported).
        shots_total: the shots requested (a program set: over all executables).
        price_per_task, price_per_shot: the prices it was committed at (``None``
            for rows written before prices were recorded: then a completed task
            is billed at its committed cost).
        committed_usd: the committed cost.
    """
    if state in _FINAL_FREE:
        return Decimal(0)
    if state != "COMPLETED":
        return None
    if price_per_task is None or price_per_shot is None:
        return committed_usd
    shots = shots_total if num_successful_shots is None else min(int(num_successful_shots), shots_total)
    return price_per_task + shots * price_per_shot


def row_billed(row: TaskRow) -> Decimal | None:
    """:func:`billed_usd` of a ledger row (``None`` if not created or not final)."""
    if not row.is_created:
        return None
    return billed_usd(row.state, row.num_successful_shots, row.shots_total, row.price_per_task_usd,
                      row.price_per_shot_usd, row.cost_usd)


def committed(rows: Iterable[TaskRow]) -> Decimal:
    """Committed cost of the created tasks among ``rows`` (exact)."""
    return sum((r.cost_usd for r in rows if r.is_created), Decimal(0))


def spent(rows: Iterable[TaskRow]) -> Decimal:
    """What Braket bills for the created tasks among ``rows``: final tasks as billed,
    the others at their committed cost (exact)."""
    total = Decimal(0)
    for row in rows:
        if row.is_created:
            billed = row_billed(row)
            total += row.cost_usd if billed is None else billed
    return total


def exposure(rows: Iterable[TaskRow]) -> Decimal:
    """:func:`spent` plus the committed cost of creates not confirmed (``CREATING``):
    the most that may be billed for ``rows``. Budget checks use it."""
    rows = list(rows)
    unconfirmed = sum((r.cost_usd for r in rows if not r.is_created and r.state == CREATING), Decimal(0))
    return spent(rows) + unconfirmed


def period_window(period: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` of the calendar budget period (UTC) holding ``now``;
    ``(None, None)`` for ``all``.

    Raises:
        ValueError: an unknown period.
    """
    now = now.astimezone(timezone.utc)
    if period == "all":
        return None, None
    if period == "month":
        start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
        end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)
        return start, end
    if period == "year":
        return datetime(now.year, 1, 1, tzinfo=timezone.utc), datetime(now.year + 1, 1, 1, tzinfo=timezone.utc)
    raise ValueError(f"budget period must be one of {list(BUDGET_PERIODS)}, but got {period!r}")


def in_period(rows: Iterable[TaskRow], period: str, now: datetime) -> list[TaskRow]:
    """The rows created in the budget period holding ``now`` (a row without a
    readable creation time counts in every period: never less than was spent)."""
    start, end = period_window(period, now)
    out = []
    for row in rows:
        when = row.created_time
        if start is None or when is None or start <= when < end:
            out.append(row)
    return out


def describe_period(period: str, now: datetime) -> str:
    """The period as people read it: ``2026-05``, ``2026``, ``all runs``."""
    now = now.astimezone(timezone.utc)
    return {"month": f"{now:%Y-%m}", "year": f"{now:%Y}", "all": "all runs"}[period]
