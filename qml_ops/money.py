"""Money, defined once: USD amounts as :class:`~decimal.Decimal`, cents and ``$`` text.

Every amount qml-ops compares, stores or shows goes through here:

* :func:`parse_usd` reads an amount a user typed (``params.yaml``, CLI, API):
  a finite number >= 0, with binary-float noise below a micro-dollar dropped
  (``0.1 + 0.2`` is ``0.3``); anything else is ``None`` ("no amount").
* :func:`to_cents` rounds to the cent in an explicit direction: ``"half-up"``
  for prices (the estimate of :mod:`qml_ops.cost`), ``"up"`` and ``"down"`` for
  the spend gate, which rounds *against spending* (estimates up, budgets and
  approvals down).
* :func:`usd` formats an amount for people: ``$1,980.48``.

Example:
    >>> from decimal import Decimal
    >>> from qml_ops.money import parse_usd, to_cents, usd
    >>> to_cents(Decimal("50.041"), "up"), to_cents(Decimal("50.049"), "down")
    (Decimal('50.05'), Decimal('50.04'))
    >>> parse_usd(0.1 + 0.2), parse_usd(-1), parse_usd("abc")
    (Decimal('0.300000'), None, None)
    >>> usd(Decimal("1980.48")), usd(1.17)
    ('$1,980.48', '$1.17')
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

__all__ = ["CENT", "Rounding", "parse_usd", "to_cents", "usd"]

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")

Rounding = Literal["half-up", "up", "down"]

#: Rounding direction -> decimal rounding mode. "up"/"down" are towards +/- infinity
#: (amounts are never negative here, so that is away from / towards zero).
_ROUNDING: dict[str, str] = {"half-up": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}


def parse_usd(value: object) -> Decimal | None:
    """A user-given USD amount as Decimal, or ``None`` if it is not a finite number >= 0.

    ``None``, booleans, text that is not a number, NaN, infinities and negative
    amounts all give ``None``. Floats are read through their shortest text
    (``str``), then float noise below a micro-dollar is rounded off (half-up).

    Args:
        value: an int, float, Decimal or numeric string.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount.quantize(MICRO, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal, rounding: Rounding = "half-up") -> Decimal:
    """Round a USD amount to the cent.

    Args:
        value: the amount.
        rounding: ``"half-up"`` (prices: 0.005 -> 0.01), ``"up"`` (never below the
            amount: what an estimate must cover) or ``"down"`` (never above it:
            what a budget or an approval allows).

    Raises:
        ValueError: for an unknown ``rounding``.
    """
    try:
        mode = _ROUNDING[rounding]
    except KeyError:
        raise ValueError(
            f"rounding must be one of {sorted(_ROUNDING)}, but got rounding={rounding!r}"
        ) from None
    return Decimal(value).quantize(CENT, rounding=mode)


def usd(value: object) -> str:
    """An amount as text for people: ``$`` and cents, thousands separated (half-up).

    Example:
        >>> usd(Decimal("24.9")), usd(3946.56), usd(Decimal("0.3425"))
        ('$24.90', '$3,946.56', '$0.34')
    """
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"${to_cents(amount):,.2f}"
