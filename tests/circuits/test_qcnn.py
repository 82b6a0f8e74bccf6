"""QCNNSpec: layout, weights, gates, validation, serialisation; the reference QNode."""

from __future__ import annotations

import json

import pytest
import torch

from qml_ops.circuits.ansatz import CONV_ANSATZE
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import ModelError

HUR_8 = [
    (
        [(0, 7), (0, 1), (2, 3), (4, 5), (6, 7), (1, 2), (3, 4), (5, 6)],
        [(1, 0), (3, 2), (5, 4), (7, 6)],
    ),
    ([(0, 6), (0, 2), (4, 6), (2, 4)], [(2, 0), (6, 4)]),
    ([(0, 4)], [(0, 4)]),
]


def test_eight_qubit_layout_is_hurs():
    spec = QCNNSpec(n_qubits=8, ansatz=9)
    assert spec.layers == HUR_8
    assert spec.readout_wire == 4
    assert spec.kept_wires == [[0, 2, 4, 6], [0, 4], [4]]


def test_four_and_sixteen_qubit_layouts():
    s4 = QCNNSpec(n_qubits=4)
    assert s4.layers == [([(0, 3), (0, 1), (2, 3), (1, 2)], [(1, 0), (3, 2)]), ([(0, 2)], [(0, 2)])]
    assert s4.readout_wire == 2
    s16 = QCNNSpec(n_qubits=16)
    conv1, pool1 = s16.layers[0]
    assert conv1[:2] == [(0, 15), (0, 1)] and conv1[-1] == (13, 14) and len(conv1) == 16
    assert pool1 == [(2 * i + 1, 2 * i) for i in range(8)]
    assert s16.layers[1][0] == [(0, 14), (0, 2), (4, 6), (8, 10), (12, 14), (2, 4), (6, 8), (10, 12)]
    assert s16.layers[2] == ([(0, 12), (0, 4), (8, 12), (4, 8)], [(4, 0), (12, 8)])
    assert s16.layers[3] == ([(0, 8)], [(0, 8)])
    assert s16.readout_wire == 8


@pytest.mark.parametrize("ansatz", sorted(CONV_ANSATZE))
def test_weight_counts_and_order(ansatz):
    k = CONV_ANSATZE[ansatz][0]
    spec = QCNNSpec(8, ansatz)
    assert spec.n_weights == 3 * k + 6
    # conv weights of layer l, then the pool weights of all layers (Hur's order)
    for layer, (conv, pools) in enumerate(spec.layers):
        for a, b in conv:
            idx = sorted({int(v) for g in spec.conv_gates(layer, a, b) for _, v in g.params})
            assert idx == list(range(layer * k, (layer + 1) * k))
        for c, t in pools:
            idx = [int(v) for g in spec.pool_gates(layer, c, t) for _, v in g.params]
            assert idx == [3 * k + 2 * layer, 3 * k + 2 * layer + 1]
    used = {int(v) for g in spec.ansatz_gates() for kind, v in g.params if kind == "w"}
    assert used == set(range(spec.n_weights))


def test_su4_sizes():
    spec = QCNNSpec(8, 9)
    assert spec.n_weights == 51
    assert spec.n_two_qubit_gates == 13 * 3 + 7 * 2
    assert spec.n_cnot_equivalent == 67  # 13 SU(4) blocks x 3 CNOTs + 7 pools x 2 controlled rotations x 2 CNOTs
    assert QCNNSpec(16, 9).n_weights == 4 * 17
    assert QCNNSpec(4, 1).n_weights == 2 * 4


@pytest.mark.parametrize(
    "encoding, n_features, first",
    [
        ("angle", 8, [("ry", (0,), (("x", 0),)), ("ry", (1,), (("x", 1),))]),
        ("dense_angle", 16, [("rx", (0,), (("x", 0),)), ("ry", (0,), (("x", 1),))]),
        ("amplitude", 256, []),
    ],
)
def test_encodings(encoding, n_features, first):
    spec = QCNNSpec(8, 9, encoding)
    assert spec.n_features == n_features
    gates = spec.encoding_gates()
    assert [(g.name, g.wires, g.params) for g in gates[:2]] == first
    feats = sorted(int(v) for g in gates for _, v in g.params)
    assert feats == list(range(n_features if encoding != "amplitude" else 0))
    assert spec.gates() == gates + spec.ansatz_gates()
    assert all(kind == "w" for g in spec.ansatz_gates() for kind, _ in g.params)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_qubits": 6}, "n_qubits=6"),
        ({"n_qubits": True}, "n_qubits=True"),
        ({"ansatz": 0}, "ansatz=0"),
        ({"ansatz": 10}, "ansatz=10"),
        ({"ansatz": "9"}, "ansatz='9'"),
        ({"encoding": "basis"}, "encoding='basis'"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ModelError, match=match):
        QCNNSpec(**kwargs)


def test_dict_round_trip():
    spec = QCNNSpec(16, 4, "dense_angle")
    data = json.loads(json.dumps(spec.to_dict()))
    assert QCNNSpec.from_dict(data) == spec
    with pytest.raises(ModelError, match="unknown keys"):
        QCNNSpec.from_dict({**data, "depth": 2})
    with pytest.raises(ModelError, match="n_qubits"):
        QCNNSpec.from_dict({**data, "n_qubits": 5})


# --------------------------------------------------------------------- reference QNode
@pytest.mark.parametrize("encoding", ["angle", "dense_angle", "amplitude"])
def test_qnode_broadcast_matches_single_samples(encoding):
    from qml_ops.circuits.reference import build_qnode

    spec = QCNNSpec(4, 9, encoding)
    f = build_qnode(spec)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(spec.n_weights, dtype=torch.float64, generator=gen)
    x = torch.rand(3, spec.n_features, dtype=torch.float64, generator=gen)
    batch = f(w, x)
    assert batch.shape == (3,)
    single = torch.stack([f(w, x[i]) for i in range(3)])
    torch.testing.assert_close(batch, single)
    assert bool((batch.abs() <= 1).all())


def test_draw_returns_figure():
    import matplotlib.pyplot as plt

    from qml_ops.circuits.reference import draw

    fig = draw(QCNNSpec(4, 1))
    assert hasattr(fig, "savefig")
    plt.close(fig)
