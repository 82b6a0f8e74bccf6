"""AWS-enforced spending limits: the service's own line behind qml-ops's spend gate.

Braket keeps optional per-device spending limits (``CreateSpendingLimit``,
``SearchSpendingLimits``, ``UpdateSpendingLimit``, ``DeleteSpendingLimit``;
boto3/botocore 1.41.1 and later). When one is set, Braket validates every
``CreateQuantumTask`` against it and rejects a task whose estimated cost (list
price x requested shots, plus the task fee) exceeds what is left
(``spendingLimit - totalSpend - queuedSpend``); tasks created outside its time
period are rejected too (Amazon Braket Developer Guide, "Cost tracking and
saving"). Simulators have no spending limits.

Before any create, a QPU run reads the device's limits and shows them beside its
estimate (:func:`read_spending_limits`, :func:`describe`); a limit that would
reject the run, or whose period does not cover now, stops it before anything is
created. With ``hardware.enforce_spending_limit: true``
(:func:`enforce_spending_limit`):

* no limit yet: one is created for what this call is approved to create, for the
  rest of the budget period (``hardware.budget_period``; no period for ``all``),
  tagged with the run, and read back;
* a limit leaving more than that: it is *lowered* to ``totalSpend + queuedSpend +
  amount`` (its period kept), and read back;
* a limit leaving no more than that (stricter or equal): it is kept. A limit is
  never raised, and never re-dated.

Example:
    >>> limits = read_spending_limits(braket, device)                       # doctest: +SKIP
    >>> print(describe(limits, now))                                        # doctest: +SKIP
    $40.00 (spent $3.20, queued $1.17, left $35.63) 2026-05-01 00:00 – 2026-06-01 00:00 UTC
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from qml_ops.errors import HardwareError
from qml_ops.hardware.devices import Device
from qml_ops.hardware.ledger import TAG_RUN, sha256
from qml_ops.hardware.qpu import aws
from qml_ops.money import to_cents, usd

__all__ = ["SpendingLimit", "LimitOutcome", "read_spending_limits", "describe", "check_limits",
           "enforce_spending_limit"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpendingLimit:
    """One Braket spending limit (``SpendingLimitSummary``), amounts in USD."""

    arn: str
    device_arn: str
    limit: Decimal
    queued: Decimal
    total: Decimal
    start: datetime
    end: datetime

    @property
    def remaining(self) -> Decimal:
        """What Braket still lets tasks be created for: limit - spent - queued."""
        return self.limit - self.total - self.queued

    def active(self, now: datetime) -> bool:
        """Does its time period cover ``now``? (Outside it Braket rejects every task.)"""
        return self.start <= now < self.end

    def text(self) -> str:
        return (f"{usd(self.limit)} (spent {usd(self.total)}, queued {usd(self.queued)}, "
                f"left {usd(self.remaining)}) {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC")


@dataclass(frozen=True)
class LimitOutcome:
    """What :func:`enforce_spending_limit` did: ``action`` is ``created``, ``lowered``
    or ``kept``; ``limit`` the limit as read back."""

    action: str
    limit: SpendingLimit
    previous: Decimal | None = None

    def text(self) -> str:
        before = f" (was {usd(self.previous)})" if self.previous is not None else ""
        return f"AWS spending limit {self.action}: {self.limit.text()}{before}"


def _money(value, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise HardwareError(f"SearchSpendingLimits returned {what}={value!r}, not an amount") from None


def _utc(value) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _limit(summary: dict) -> SpendingLimit:
    period = summary["timePeriod"]
    return SpendingLimit(
        arn=summary["spendingLimitArn"], device_arn=summary["deviceArn"],
        limit=_money(summary["spendingLimit"], "spendingLimit"),
        queued=_money(summary["queuedSpend"], "queuedSpend"),
        total=_money(summary["totalSpend"], "totalSpend"),
        start=_utc(period["startAt"]), end=_utc(period["endAt"]),
    )


def read_spending_limits(braket, device: Device) -> list[SpendingLimit]:
    """The spending limits on ``device`` (``SearchSpendingLimits``, paginated).

    Raises:
        HardwareError: AWS refused the call (after bounded retries).
    """
    kwargs = {"filters": [{"name": "deviceArn", "operator": "EQUAL", "values": [device.arn]}]}
    limits = []
    while True:
        page = aws.read(braket.search_spending_limits, f"SearchSpendingLimits on {device.id}", **kwargs)
        limits += [_limit(s) for s in page.get("spendingLimits", []) if s.get("deviceArn") == device.arn]
        if not page.get("nextToken"):
            return limits
        kwargs["nextToken"] = page["nextToken"]


def describe(limits: list[SpendingLimit], now: datetime) -> str:
    """The limits as people read them, or that there is none."""
    if not limits:
        return "no AWS spending limit on this device"
    return "; ".join(f"{'' if l.active(now) else '(not in force now) '}{l.text()}" for l in limits)


def check_limits(limits: list[SpendingLimit], device: Device, amount: Decimal, now: datetime) -> None:
    """Refuse a create Braket would reject: a limit whose period does not cover
    now, or one leaving less than ``amount``.

    Raises:
        HardwareError: saying which limit, what it leaves, and that nothing was submitted.
    """
    for limit in limits:
        if not limit.active(now):
            raise HardwareError(
                f"the AWS spending limit {limit.arn} on {device.id} covers {limit.start:%Y-%m-%d %H:%M} – "
                f"{limit.end:%Y-%m-%d %H:%M} UTC, not now: Braket rejects every task outside it. Update "
                "its period or delete it yourself (qml-ops never raises or re-dates a limit); nothing was submitted"
            )
        if limit.remaining < amount:
            raise HardwareError(
                f"the AWS spending limit on {device.id} leaves {usd(limit.remaining)} ({limit.text()}), "
                f"but this run needs {usd(amount)}: Braket would reject its tasks; nothing was submitted"
            )


def _read_back(braket, device: Device, arn: str) -> SpendingLimit:
    for limit in read_spending_limits(braket, device):
        if limit.arn == arn:
            return limit
    raise HardwareError(f"the spending limit {arn} on {device.id} was set but cannot be read back; "
                        "nothing was submitted")


def enforce_spending_limit(braket, device: Device, amount: Decimal, window: tuple[datetime | None, datetime | None],
                           now: datetime, run_key: str) -> LimitOutcome:
    """Make Braket itself refuse more than ``amount`` on ``device`` from now on.

    Args:
        braket: a Braket client of the device's region.
        device: the QPU.
        amount: what this call is approved to create on the device (USD, exact;
            the limit is rounded up to the cent, as Braket takes it).
        window: the budget period ``(start, end)``; ``end`` ``None`` for no period.
        now: the current UTC time.
        run_key: tags a created limit.

    Returns:
        :class:`LimitOutcome`: what was done, and the limit as read back.

    Raises:
        HardwareError: a limit not in force now, one leaving less than ``amount``,
            one that does not read back as set, or AWS refused a call.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    cents = to_cents(amount, "up")
    limits = read_spending_limits(braket, device)
    check_limits(limits, device, amount, now)
    try:
        if not limits:
            kwargs = {"clientToken": sha256(f"qml-ops-limit|{device.arn}|{run_key}|{cents}|{now:%Y-%m-%dT%H}")[:64],
                      "deviceArn": device.arn, "spendingLimit": str(cents), "tags": {TAG_RUN: run_key}}
            if window[1] is not None:
                kwargs["timePeriod"] = {"startAt": now.replace(microsecond=0), "endAt": window[1]}
            arn = aws.retrying(braket.create_spending_limit, f"CreateSpendingLimit on {device.id}",
                               aws.READ_ATTEMPTS, **kwargs)["spendingLimitArn"]
            outcome = LimitOutcome("created", _read_back(braket, device, arn))
        else:
            strictest = min(limits, key=lambda l: l.remaining)
            if strictest.remaining <= cents:
                outcome = LimitOutcome("kept", strictest)
            else:
                lowered = to_cents(strictest.total + strictest.queued + cents, "up")
                aws.retrying(braket.update_spending_limit, f"UpdateSpendingLimit on {device.id}", aws.READ_ATTEMPTS,
                             spendingLimitArn=strictest.arn, spendingLimit=str(lowered),
                             clientToken=sha256(f"qml-ops-limit-update|{strictest.arn}|{lowered}|{run_key}"))
                outcome = LimitOutcome("lowered", _read_back(braket, device, strictest.arn), strictest.limit)
                if outcome.limit.limit > strictest.limit:  # pragma: no cover - the rule above prevents it
                    raise HardwareError(f"the spending limit on {device.id} reads back higher than it was")
    except (ClientError, BotoCoreError) as exc:
        raise HardwareError(
            f"cannot set the AWS spending limit on {device.id}: {aws.describe_error(exc)} "
            "(needs braket:CreateSpendingLimit / braket:UpdateSpendingLimit); nothing was submitted"
        ) from None
    if outcome.limit.remaining < amount or (outcome.action != "kept" and outcome.limit.limit != (
            cents if outcome.action == "created" else lowered)):
        raise HardwareError(f"the AWS spending limit on {device.id} reads back as {outcome.limit.text()}, "
                            f"not covering {usd(amount)} as set; nothing was submitted")
    log.warning("%s: %s", device.id, outcome.text())
    return outcome
