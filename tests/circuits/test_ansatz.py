"""The convolution ansätze and pooling unit: gate orders and hand-built matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qml_ops.circuits.ansatz import CONV_ANSATZE, POOL_N_PARAMS, pool
from qml_ops.simulation.gates import block_matrix

# Hur, Kim & Park 2022 (code takh04/QCNN, unitary.py): (name, wires) with a=0, b=1.
EXPECTED = {
    1: ["ry a", "ry b", "cnot ab"],
    2: ["h a", "h b", "cz ab", "rx a", "rx b"],
    3: ["ry a", "ry b", "cnot ba", "ry a", "ry b", "cnot ab"],
    4: ["ry a", "ry b", "crz ba", "ry a", "ry b", "crz ab"],
    5: ["ry a", "ry b", "crx ba", "ry a", "ry b", "crx ab"],
    6: ["ry a", "ry b", "cnot ab", "ry a", "ry b", "cnot ab", "ry a", "ry b"],
    7: ["rx a", "rx b", "rz a", "rz b", "crz ba", "crz ab", "rx a", "rx b", "rz a", "rz b"],
    8: ["rx a", "rx b", "rz a", "rz b", "crx ba", "crx ab", "rx a", "rx b", "rz a", "rz b"],
    9: ["u3 a", "u3 b", "cnot ab", "ry a", "rz b", "cnot ba", "ry a", "cnot ab", "u3 a", "u3 b"],
}
N_PARAMS = {1: 2, 2: 2, 3: 4, 4: 6, 5: 6, 6: 6, 7: 10, 8: 10, 9: 15}


def _describe(gates, a, b):
    names = {a: "a", b: "b"}
    return [f"{g.name} {''.join(names[w] for w in g.wires)}" for g in gates]


@pytest.mark.parametrize("ansatz", sorted(EXPECTED))
def test_gate_order_and_params(ansatz):
    n_params, block = CONV_ANSATZE[ansatz]
    assert n_params == N_PARAMS[ansatz]
    gates = block(5, 2, 10)
    assert _describe(gates, 5, 2) == EXPECTED[ansatz]
    used = [int(v) for g in gates for kind, v in g.params if kind == "w"]
    assert used == list(range(10, 10 + n_params))  # each weight once, in order


def test_pool_unit():
    gates = pool(3, 2, 7)
    assert [(g.name, g.wires, g.params) for g in gates] == [
        ("crz", (3, 2), (("w", 7),)),
        ("x", (3,), ()),
        ("crx", (3, 2), (("w", 8),)),
    ]
    assert POOL_N_PARAMS == 2


# ---------------------------------------------------------------- hand-built matrices
def _ry(t):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -s], [s, c]])


def _rz(t):
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


def _rx(t):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -1j * s], [-1j * s, c]])


def _u3(t, p, l):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -np.exp(1j * l) * s], [np.exp(1j * p) * s, np.exp(1j * (p + l)) * c]])


CNOT_AB = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
SWAP = np.eye(4)[[0, 2, 1, 3]]
CNOT_BA = SWAP @ CNOT_AB @ SWAP
I2 = np.eye(2)


def _block(ansatz, theta):
    gates = CONV_ANSATZE[ansatz][1](0, 1, 0)
    w = torch.tensor(theta, dtype=torch.float64).unsqueeze(0)
    return block_matrix(gates, (0, 1), w, torch.complex128)[0].numpy()


def test_ansatz1_matches_hand_built_matrix():
    t = [0.3, -1.2]
    expected = CNOT_AB @ np.kron(_ry(t[0]), _ry(t[1]))
    np.testing.assert_allclose(_block(1, t), expected, atol=1e-12)


def test_su4_matches_hand_built_matrix():
    t = np.random.default_rng(1).normal(size=15)
    expected = (
        np.kron(_u3(*t[9:12]), _u3(*t[12:15]))
        @ CNOT_AB
        @ np.kron(_ry(t[8]), I2)
        @ CNOT_BA
        @ np.kron(_ry(t[6]), _rz(t[7]))
        @ CNOT_AB
        @ np.kron(_u3(*t[0:3]), _u3(*t[3:6]))
    )
    np.testing.assert_allclose(_block(9, t), expected, atol=1e-12)


def test_pool_matches_hand_built_matrix():
    t = [0.7, -0.4]
    crz = np.block([[I2, 0 * I2], [0 * I2, _rz(t[0])]])
    crx = np.block([[I2, 0 * I2], [0 * I2, _rx(t[1])]])
    expected = crx @ np.kron(np.array([[0, 1], [1, 0]]), I2) @ crz  # control = high bit
    w = torch.tensor(t, dtype=torch.float64).unsqueeze(0)
    got = block_matrix(pool(0, 1, 0), (0, 1), w, torch.complex128)[0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("ansatz", sorted(CONV_ANSATZE))
def test_block_matrix_matches_pennylane(ansatz):
    import pennylane as qml

    from qml_ops.circuits.reference import apply_gates

    n_params, block = CONV_ANSATZE[ansatz]
    theta = np.random.default_rng(ansatz).normal(size=n_params)
    gates = block(0, 1, 0)
    expected = qml.matrix(lambda: apply_gates(gates, theta, np.zeros(0)), wire_order=[0, 1])()
    np.testing.assert_allclose(_block(ansatz, theta), expected, atol=1e-12)
