"""Money helpers: parsing user amounts, rounding in an explicit direction, formatting."""

from decimal import Decimal

import pytest

from qml_ops.money import parse_usd, to_cents, usd


@pytest.mark.parametrize("value, expected", [
    (0, Decimal("0")), ("50.04", Decimal("50.04")), (50.04, Decimal("50.04")),
    (Decimal("36.52"), Decimal("36.52")), (0.1 + 0.2, Decimal("0.3")),  # float noise dropped
    ("1e2", Decimal("100")), (Decimal("0.0000004"), Decimal("0")),
])
def test_parse_usd_reads_amounts(value, expected):
    assert parse_usd(value) == expected


@pytest.mark.parametrize("value", [None, True, False, "", "abc", -0.01, "-1", float("nan"),
                                   float("inf"), Decimal("-Infinity"), [1]])
def test_parse_usd_refuses_what_is_not_an_amount(value):
    assert parse_usd(value) is None


def test_to_cents_rounds_in_the_direction_asked():
    assert to_cents(Decimal("50.041"), "up") == Decimal("50.05")
    assert to_cents(Decimal("50.049"), "down") == Decimal("50.04")
    assert to_cents(Decimal("50.04"), "up") == to_cents(Decimal("50.04"), "down") == Decimal("50.04")
    # half-up (prices), not bankers' rounding
    assert to_cents(Decimal("0.005")) == Decimal("0.01") and to_cents(Decimal("0.015")) == Decimal("0.02")
    assert to_cents(Decimal("0.0049")) == Decimal("0.00")
    assert to_cents(Decimal("35.9352")) == Decimal("35.94")  # 0.30 + 24576 x 0.00145
    assert str(to_cents(Decimal("3"))) == "3.00"


def test_to_cents_refuses_an_unknown_direction():
    with pytest.raises(ValueError, match=r"rounding must be one of \['down', 'half-up', 'up'\], "
                                         r"but got rounding='nearest'"):
        to_cents(Decimal("1"), "nearest")


@pytest.mark.parametrize("value, text", [
    (Decimal("1980.48"), "$1,980.48"), (Decimal("24.9"), "$24.90"), (1.17, "$1.17"), (0, "$0.00"),
    (Decimal("3946.56"), "$3,946.56"), (Decimal("3.425"), "$3.43"), (Decimal("0.3425"), "$0.34"),
    ("1234567.891", "$1,234,567.89"),
])
def test_usd_formats_cents_half_up_with_separators(value, text):
    assert usd(value) == text
