"""The spend gate: every branch, including one cent short."""

from decimal import Decimal

import pytest

from qml_ops.errors import BudgetError
from qml_ops.hardware.gate import GateDecision, check_spend


def test_allowed_when_within_budget_and_approved():
    decision = check_spend("qpu", 50.04, 60, 50.04)
    assert decision == GateDecision(
        True,
        "estimate $50.04 is within hardware.max_budget_usd $60.00 and approved up to $50.04",
    )
    decision.raise_if_denied()  # no exception


def test_estimate_equal_to_budget_is_allowed():
    assert check_spend("qpu", "50.04", "50.04", "50.04").allowed


@pytest.mark.parametrize("mode", ["simulator", "emulator", "QPU", "", None])
def test_only_qpu_mode_may_spend(mode):
    decision = check_spend(mode, 1, 100, 100)
    assert not decision.allowed
    assert repr(mode) in decision.reason and "'qpu'" in decision.reason


def test_estimate_over_budget():
    decision = check_spend("qpu", 50.04, 50.00, 100)
    assert not decision.allowed
    assert decision.reason == "estimate $50.04 exceeds hardware.max_budget_usd $50.00"


def test_budget_one_cent_short():
    decision = check_spend("qpu", Decimal("36.52"), Decimal("36.51"), Decimal("36.52"))
    assert decision.reason == "estimate $36.52 exceeds hardware.max_budget_usd $36.51"


def test_approval_one_cent_short():
    decision = check_spend("qpu", 50.04, 60, 50.03)
    assert not decision.allowed
    assert decision.reason == "hardware.approve_usd $50.03 is below the estimate $50.04: approve at least 50.04 to spend it"


@pytest.mark.parametrize("budget", [None, -1, "abc", float("nan"), float("inf"), True])
def test_missing_or_bad_budget(budget):
    decision = check_spend("qpu", 10, budget, 10)
    assert not decision.allowed
    assert "hardware.max_budget_usd is not set" in decision.reason
    assert "$10.00" in decision.reason


@pytest.mark.parametrize("approval", [None, -5, "", float("nan")])
def test_missing_approval(approval):
    decision = check_spend("qpu", 10, 20, approval)
    assert not decision.allowed
    assert "not approved" in decision.reason and "hardware.approve_usd: 10.00" in decision.reason


@pytest.mark.parametrize("estimate", [None, -1, "x", float("nan")])
def test_missing_or_bad_estimate(estimate):
    decision = check_spend("qpu", estimate, 20, 20)
    assert not decision.allowed
    assert "no valid cost estimate" in decision.reason


def test_rounding_is_against_spending():
    # estimate rounds up (50.041 -> 50.05); approval/budget round down (50.049 -> 50.04)
    assert check_spend("qpu", 50.041, 100, 50.049).reason == (
        "hardware.approve_usd $50.04 is below the estimate $50.05: approve at least 50.05 to spend it"
    )
    assert not check_spend("qpu", 50.041, 50.049, 100).allowed
    # float noise does not block an exact match
    assert check_spend("qpu", 0.1 + 0.2, 0.3, 0.3).allowed


def test_zero_cost_is_allowed_with_zero_budget():
    assert check_spend("qpu", 0, 0, 0).allowed


def test_raise_if_denied():
    with pytest.raises(BudgetError, match=r"estimate \$50.04 exceeds"):
        check_spend("qpu", 50.04, 50, 60).raise_if_denied()
