"""The Pareto front, the selection rules and the dominance pruner, on hand-made points."""

import itertools
import random

import pytest

from qml_ops.tuning.pareto import TrialPoint, accuracy_only, dominates, pareto_front, select
from qml_ops.tuning.pruning import Competitor, DominancePruner

DIRS = {"val_accuracy": "maximize", "two_qubit_gates": "minimize"}


def point(number, acc, gates, loss=0.1, emulated=None):
    values = {"val_accuracy": acc, "two_qubit_gates": gates}
    if emulated is not None:
        values["emulated_accuracy"] = emulated
    return TrialPoint(number, {"ansatz": number}, values, acc, loss, gates, "iqm-garnet", emulated)


def test_front_is_exactly_the_non_dominated_points():
    rng = random.Random(4)
    points = [point(i, rng.choice([0.8, 0.9, 0.95, 1.0]), rng.choice([11, 16, 20, 31])) for i in range(40)]
    front = pareto_front(points, DIRS)
    numbers = {p.number for p in front}
    for p, q in itertools.product(points, repeat=2):  # the plain definition, pair by pair
        better_or_equal = p.val_accuracy >= q.val_accuracy and p.two_qubit_gates <= q.two_qubit_gates
        strictly = p.val_accuracy > q.val_accuracy or p.two_qubit_gates < q.two_qubit_gates
        assert dominates(p, q, DIRS) == (better_or_equal and strictly)
        if better_or_equal and strictly:
            assert q.number not in numbers
    for q in points:
        if q.number not in numbers:
            assert any(dominates(p, q, DIRS) for p in front), "a dominated point is dominated by a front point"


def test_min_two_qubit_gates_takes_the_fewest_gates_within_the_tolerance():
    points = [point(0, 1.0, 56, loss=0.05), point(1, 0.99, 31, loss=0.2), point(2, 0.97, 11), point(3, 0.99, 31, 0.1)]
    pick = select(points, DIRS, "min_two_qubit_gates", tolerance=0.02)
    assert pick.trial.number == 3  # 31 gates, tie with trial 1 broken by the lower validation loss
    assert pick.accuracy_only.number == 0
    assert "fewest two-qubit gates (31 on iqm-garnet)" in pick.reason and "trial 0" in pick.reason
    assert select(points, DIRS, "min_two_qubit_gates", tolerance=0.03).trial.number == 2
    assert select(points, DIRS, "min_two_qubit_gates", tolerance=0.0).trial.number == 0
    assert select(points, DIRS, "max_val_accuracy", tolerance=0.02).trial.number == 0
    numbers = pick.numbers()
    assert numbers["two_qubit_gates"] == 31 and numbers["accuracy_only_two_qubit_gates"] == 56


def test_selection_is_on_the_front_and_follows_the_rule_for_random_studies():
    rng = random.Random(7)
    for _ in range(50):
        points = [point(i, round(rng.uniform(0.6, 1.0), 2), rng.choice([11, 16, 20, 31, 44, 56]), rng.random())
                  for i in range(rng.randint(1, 15))]
        tol = rng.choice([0.0, 0.01, 0.05, 0.2])
        pick = select(points, DIRS, "min_two_qubit_gates", tol)
        assert not any(dominates(p, pick.trial, DIRS) for p in points)
        best = max(p.val_accuracy for p in points)
        allowed = [p for p in points if p.val_accuracy >= best - tol - 1e-12]
        assert pick.trial.two_qubit_gates == min(p.two_qubit_gates for p in allowed)
        assert pick.trial.val_accuracy == max(p.val_accuracy for p in allowed
                                              if p.two_qubit_gates == pick.trial.two_qubit_gates)
        assert pick.accuracy_only == accuracy_only(points)


def test_max_emulated_accuracy_rule():
    dirs = {**DIRS, "emulated_accuracy": "maximize"}
    points = [point(0, 1.0, 56, emulated=0.90), point(1, 0.98, 31, emulated=0.96), point(2, 0.98, 44, emulated=0.96)]
    pick = select(points, dirs, "max_emulated_accuracy", 0.02)
    assert pick.trial.number == 1 and "highest emulated accuracy (0.9600 on iqm-garnet" in pick.reason
    with pytest.raises(ValueError, match="unknown selection rule"):
        select(points, dirs, "best", 0.0)
    with pytest.raises(ValueError, match="no completed trial"):
        select([], dirs, "max_val_accuracy", 0.0)


def test_dominance_pruner_stops_only_dominated_curves():
    pruner = DominancePruner(n_startup_trials=2, n_warmup_steps=2)
    done = [Competitor(0, (0.5, 0.7, 0.9, 0.95), (11.0,)), Competitor(1, (0.6, 0.6, 0.6), (56.0,))]
    assert pruner.reason(2, [0.1, 0.2], (20.0,), done) is None  # warm-up
    assert pruner.reason(3, [0.1, 0.2, 0.3], (20.0,), done[:1]) is None  # too few completed trials
    reason = pruner.reason(3, [0.5, 0.6, 0.8], (20.0,), done)
    assert reason and "trial 0" in reason  # trial 0 was at 0.9 by epoch 3, with fewer gates
    assert pruner.reason(3, [0.5, 0.6, 0.8], (11.0,), [done[1]]) is None  # the better one costs more gates
    assert pruner.reason(3, [0.5, 0.6, 0.9], (20.0,), done) is None  # not strictly better: go on
    assert pruner.reason(5, [0.5, 0.6, 0.7, 0.8, 0.96], (20.0,), done) is None  # beyond trial 0's curve: its best
    with pytest.raises(ValueError, match="cannot be negative"):
        DominancePruner(n_warmup_steps=-1)
