"""The gate table against PennyLane, the Braket SDK and Qiskit, in numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qml_ops.circuits.gates import GATE_TABLE, IR_GATES, NATIVE_GATES, gate_matrix
from qml_ops.circuits.ir import GATES

RNG = np.random.default_rng(7)
ANGLES = {name: [tuple(RNG.uniform(-2 * np.pi, 2 * np.pi, d.n_params)) for _ in range(4)]
          for name, d in GATE_TABLE.items()}


def _pennylane(name, angles):
    import pennylane as qml

    d = GATE_TABLE[name]
    op = getattr(qml, d.pennylane)(*angles, wires=list(range(d.n_wires)))
    return qml.matrix(op, wire_order=list(range(d.n_wires)))


def _braket(name, angles):
    from braket.circuits import gates as bg

    return getattr(bg, GATE_TABLE[name].braket)(*angles).to_matrix()


def _qiskit(name, angles):
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    d = GATE_TABLE[name]
    qc = QuantumCircuit(d.n_wires)
    getattr(qc, d.qiskit)(*angles, *range(d.n_wires))
    # Qiskit's first qubit is the least significant bit: reverse to wire 0 first
    return Operator(qc.reverse_bits()).data


def test_vocabularies():
    assert set(IR_GATES) == set(GATES) == {
        "h", "x", "rx", "ry", "rz", "u3", "cnot", "cz", "crx", "crz"}
    assert set(NATIVE_GATES) == {"rx", "rz", "prx", "gpi", "gpi2", "zz", "cz", "iswap"}
    assert all(GATE_TABLE[n].pennylane for n in IR_GATES)  # the reference QNode has them all
    assert all(GATE_TABLE[n].braket for n in NATIVE_GATES)  # compiled circuits are Braket's
    assert all(GATE_TABLE[n].qiskit for n in IR_GATES)  # the compiler transpiles with Qiskit
    assert GATES["u3"] == (1, 3) and GATES["crx"] == (2, 1)


@pytest.mark.parametrize("name", [n for n, d in GATE_TABLE.items() if d.pennylane])
def test_matches_pennylane(name):
    for angles in ANGLES[name]:
        np.testing.assert_allclose(gate_matrix(name, *angles), _pennylane(name, angles),
                                   atol=1e-12, err_msg=f"{name}{angles}")


@pytest.mark.parametrize("name", [n for n, d in GATE_TABLE.items() if d.braket])
def test_matches_braket(name):
    for angles in ANGLES[name]:
        np.testing.assert_allclose(gate_matrix(name, *angles), _braket(name, angles),
                                   atol=1e-12, err_msg=f"{name}{angles}")


@pytest.mark.parametrize("name", [n for n, d in GATE_TABLE.items() if d.qiskit])
def test_matches_qiskit(name):
    for angles in ANGLES[name]:
        np.testing.assert_allclose(gate_matrix(name, *angles), _qiskit(name, angles),
                                   atol=1e-12, err_msg=f"{name}{angles}")


@pytest.mark.parametrize("name", sorted(GATE_TABLE))
def test_batched_numpy_and_torch_agree_and_are_unitary(name):
    d = GATE_TABLE[name]
    batch = RNG.uniform(-np.pi, np.pi, (d.n_params, 3, 2))  # leading shape (3, 2)
    ref = gate_matrix(name, *batch)
    if d.n_params:
        assert ref.shape == (3, 2, d.dim, d.dim) and ref.dtype == np.complex128
        for i in range(3):
            for j in range(2):
                np.testing.assert_allclose(ref[i, j], gate_matrix(name, *batch[:, i, j]),
                                           atol=1e-15)
    else:
        assert ref.shape == (d.dim, d.dim)
    eye = np.eye(d.dim)
    np.testing.assert_allclose(ref @ np.swapaxes(ref, -1, -2).conj(),
                               np.broadcast_to(eye, ref.shape), atol=1e-12)
    t64 = gate_matrix(name, *torch.tensor(batch), dtype=torch.complex128)
    assert t64.dtype == torch.complex128
    np.testing.assert_allclose(t64.numpy(), ref, atol=1e-15)
    t32 = gate_matrix(name, *torch.tensor(batch, dtype=torch.float32), dtype=torch.complex64)
    assert t32.dtype == torch.complex64
    np.testing.assert_allclose(t32.numpy(), ref, atol=1e-6)


@pytest.mark.parametrize("name", [n for n, d in GATE_TABLE.items() if d.n_params])
def test_torch_gradients_match_finite_differences(name):
    d = GATE_TABLE[name]
    angles = torch.tensor(ANGLES[name][0], dtype=torch.float64, requires_grad=True)
    weights = torch.randn(d.dim, d.dim, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))

    def loss(a):
        return (gate_matrix(name, *a.unbind()) * weights).real.sum()

    assert torch.autograd.gradcheck(loss, (angles,))


def test_angle_dtype_selects_the_complex_dtype():
    assert gate_matrix("rx", torch.zeros(2)).dtype == torch.complex64
    assert gate_matrix("rx", torch.zeros(2, dtype=torch.float64)).dtype == torch.complex128
    assert gate_matrix("cz", dtype=torch.complex64).dtype == torch.complex64
    mixed = gate_matrix("prx", torch.zeros(5, dtype=torch.float64), 0.3)  # a number broadcasts
    assert mixed.shape == (5, 2, 2)
    np.testing.assert_allclose(mixed[0].numpy(), gate_matrix("prx", 0.0, 0.3))


def test_errors_name_the_gate():
    with pytest.raises(ValueError, match="unknown gate 'cy'"):
        gate_matrix("cy")
    with pytest.raises(ValueError, match="gate u3 takes 3 angles, got 1"):
        gate_matrix("u3", 0.1)
