"""The simulator's execution plan: every unit once, in an order the circuit allows."""

from __future__ import annotations

import itertools

import pytest

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.simulation.plan import Block, Permute, Unit, build_plan


def _circuit_units(spec: QCNNSpec) -> list[Unit]:
    n_layers = spec.n_layers
    out = []
    for layer, (conv, pools) in enumerate(spec.layers):
        out += [Unit(layer, pair) for pair in conv] + [Unit(n_layers + layer, pair) for pair in pools]
    return out


@pytest.mark.parametrize(
    "n_qubits, encoding, max_block",
    list(itertools.product((4, 8, 16), ("angle", "amplitude"), (2, 3, 4, 5, 6))),
)
def test_plan_covers_the_circuit_in_a_valid_order(n_qubits, encoding, max_block):
    spec = QCNNSpec(n_qubits, 9, encoding)
    plan = build_plan(spec, max_block=max_block)
    order = list(plan.front)
    layout = list(plan.layout)
    assert sorted(layout) == list(range(n_qubits))
    assert [w for c in plan.clusters for w in c] == layout
    for step in plan.steps:
        if isinstance(step, Permute):
            assert sorted(step.layout) == list(range(n_qubits))
            layout = list(step.layout)
        else:
            assert isinstance(step, Block) and 2 <= len(step.wires) <= max_block
            assert list(step.wires) == layout[: len(step.wires)]  # a block acts on the top axes
            assert step.units and all(set(u.wires) <= set(step.wires) for u in step.units)
            order += step.units
    assert layout == plan.final_layout
    assert plan.kept_order == layout[: len(plan.kept_order)]
    assert sorted(plan.kept_order) == spec.kept_wires[plan.split - 1]
    order += plan.tail
    circuit = _circuit_units(spec)
    assert sorted(order, key=repr) == sorted(circuit, key=repr)  # each unit exactly once
    for wire in range(n_qubits):  # units sharing a wire keep their circuit order
        assert [u for u in order if wire in u.wires] == [u for u in circuit if wire in u.wires]
    for unit in plan.tail:
        assert set(unit.wires) <= set(plan.kept_order)
    if encoding == "amplitude":
        assert not plan.front


def test_front_clusters_stay_small():
    plan = build_plan(QCNNSpec(16, 9, "angle"))
    assert max(len(c) for c in plan.clusters) <= 4
    assert [u.wires for u in plan.front][:2] == [(0, 15), (0, 1)]


def test_bad_block_size_rejected():
    with pytest.raises(ValueError, match="max_block"):
        build_plan(QCNNSpec(8), max_block=7)
