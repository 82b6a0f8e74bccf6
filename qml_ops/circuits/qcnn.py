"""The QCNN circuit specification (Hur, Kim & Park 2022), generalised to 4, 8, 16 qubits.

:class:`QCNNSpec` is the single definition of the circuit: every backend (the
PennyLane reference QNode, the batched torch simulator, the hardware compiler)
translates :meth:`QCNNSpec.gates` or uses :attr:`QCNNSpec.layers`.

Layout rule, applied to the list ``a`` of active wires (length ``m``), layer after
layer until one wire is left:

* ``m > 2``: convolution on ``(a[0], a[m-1])``, then ``(a[0], a[1]), (a[2], a[3]), …``,
  then ``(a[1], a[2]), (a[3], a[4]), …``; pooling ``a[2i+1] → a[2i]`` keeps ``a[2i]``.
* ``m == 2``: convolution on ``(a[0], a[1])``; pooling ``a[0] → a[1]`` keeps ``a[1]``.

For 8 qubits this is exactly Hur's circuit: conv1 (0,7),(0,1),(2,3),(4,5),(6,7),
(1,2),(3,4),(5,6); pool1 1→0, 3→2, 5→4, 7→6; conv2 (0,6),(0,2),(4,6),(2,4);
pool2 2→0, 6→4; conv3 (0,4); pool3 0→4; read out wire 4.

Weight vector order (as in Hur's ``QCNN_structure``, so their trained parameters
load unchanged): the conv parameters of layer 1, layer 2, …, layer L (each block
of ``k`` params shared by every pair of its layer), then 2 pooling parameters per
layer, layer 1 first: ``[conv_1 (k) | … | conv_L (k) | pool_1 (2) | … | pool_L (2)]``.
``n_weights = L * k + 2 * L`` (8 qubits, SU(4): 3 * 15 + 6 = 51).

Example:
    >>> spec = QCNNSpec(n_qubits=8, ansatz=9, encoding="angle")
    >>> spec.n_weights, spec.n_features, spec.readout_wire
    (51, 8, 4)
    >>> QCNNSpec.from_dict(spec.to_dict()) == spec
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from qml_ops.circuits.ansatz import CONV_ANSATZE, POOL_N_PARAMS, pool
from qml_ops.circuits.ir import GATES, Gate, x
from qml_ops.errors import ModelError

__all__ = ["QCNNSpec", "ENCODINGS", "N_QUBITS", "Pair"]

#: Supported register sizes.
N_QUBITS = (4, 8, 16)
#: Supported encodings.
ENCODINGS = ("angle", "dense_angle", "amplitude")

#: A qubit pair: ``(a, b)`` for a convolution, ``(control, target)`` for a pooling
#: (the control is discarded, the target kept).
Pair = tuple[int, int]


def _layer_pairs(active: list[int]) -> tuple[list[Pair], list[Pair], list[int]]:
    """Convolution pairs, pooling pairs and kept wires of one layer."""
    m = len(active)
    if m == 2:
        return [(active[0], active[1])], [(active[0], active[1])], [active[1]]
    conv = [(active[0], active[m - 1])]
    conv += [(active[i], active[i + 1]) for i in range(0, m - 1, 2)]
    conv += [(active[i], active[i + 1]) for i in range(1, m - 1, 2)]
    pools = [(active[2 * i + 1], active[2 * i]) for i in range(m // 2)]
    return conv, pools, active[0::2]


@dataclass(frozen=True)
class QCNNSpec:
    """What circuit a QCNN model is: register size, convolution ansatz, encoding.

    Args:
        n_qubits: 4, 8 or 16.
        ansatz: convolution ansatz number 1..9 (see :mod:`qml_ops.circuits.ansatz`;
            9 is the SU(4) block).
        encoding: ``"angle"`` (RY(x_j) on wire j, n features), ``"dense_angle"``
            (RX(x[2j]) then RY(x[2j+1]) on wire j, 2n features) or ``"amplitude"``
            (the L2-normalised 2**n feature vector is the initial state, wire 0 the
            most significant bit, PennyLane's convention).

    Raises:
        ModelError: for a value outside those sets.

    Example:
        >>> spec = QCNNSpec(n_qubits=4, ansatz=1)
        >>> spec.layers
        [([(0, 3), (0, 1), (2, 3), (1, 2)], [(1, 0), (3, 2)]), ([(0, 2)], [(0, 2)])]
    """

    n_qubits: int = 8
    ansatz: int = 9
    encoding: str = "angle"

    def __post_init__(self) -> None:
        if isinstance(self.n_qubits, bool) or self.n_qubits not in N_QUBITS:
            raise ModelError(
                f"QCNN n_qubits must be one of {list(N_QUBITS)}, but got n_qubits={self.n_qubits!r}."
            )
        if isinstance(self.ansatz, bool) or self.ansatz not in CONV_ANSATZE:
            raise ModelError(
                f"QCNN ansatz must be an integer 1..9, but got ansatz={self.ansatz!r}."
            )
        if self.encoding not in ENCODINGS:
            raise ModelError(
                f"QCNN encoding must be one of {list(ENCODINGS)}, "
                f"but got encoding={self.encoding!r}."
            )

    # ------------------------------------------------------------------ layout
    @property
    def layers(self) -> list[tuple[list[Pair], list[Pair]]]:
        """Per layer: (convolution pairs in order, pooling pairs ``(discarded, kept)``)."""
        active = list(range(self.n_qubits))
        out = []
        while len(active) > 1:
            conv, pools, active = _layer_pairs(active)
            out.append((conv, pools))
        return out

    @property
    def n_layers(self) -> int:
        """Number of conv + pool layers (log2 of n_qubits)."""
        return self.n_qubits.bit_length() - 1

    @property
    def readout_wire(self) -> int:
        """The wire left after the last pooling; the model reads ⟨Z⟩ there."""
        return self.layers[-1][1][-1][1]

    @property
    def kept_wires(self) -> list[list[int]]:
        """Active wires after each layer (the last entry is ``[readout_wire]``)."""
        return [sorted({t for _, t in pools}) for _, pools in self.layers]

    # ----------------------------------------------------------------- weights
    @property
    def conv_n_params(self) -> int:
        """Parameters of one convolution block (shared by all pairs of a layer)."""
        return CONV_ANSATZE[self.ansatz][0]

    @property
    def n_weights(self) -> int:
        """Length of the weight vector: ``n_layers * conv_n_params + 2 * n_layers``."""
        return self.n_layers * (self.conv_n_params + POOL_N_PARAMS)

    def conv_offset(self, layer: int) -> int:
        """Index of layer ``layer``'s (0-based) first convolution weight."""
        return layer * self.conv_n_params

    def pool_offset(self, layer: int) -> int:
        """Index of layer ``layer``'s (0-based) first pooling weight."""
        return self.n_layers * self.conv_n_params + POOL_N_PARAMS * layer

    # ---------------------------------------------------------------- features
    @property
    def n_features(self) -> int:
        """Input length: n (angle), 2n (dense_angle), 2**n (amplitude)."""
        return {"angle": self.n_qubits, "dense_angle": 2 * self.n_qubits}.get(
            self.encoding, 2**self.n_qubits
        )

    # ------------------------------------------------------------------- gates
    def encoding_gates(self) -> list[Gate]:
        """Gates that load one sample (empty for amplitude: that is an initial state).

        Example:
            >>> [(g.name, g.wires, g.params) for g in QCNNSpec(4, 1, "dense_angle").encoding_gates()][:2]
            [('rx', (0,), (('x', 0),)), ('ry', (0,), (('x', 1),))]
        """
        n = self.n_qubits
        if self.encoding == "angle":
            return [Gate("ry", (j,), (x(j),)) for j in range(n)]
        if self.encoding == "dense_angle":
            gates = []
            for j in range(n):
                gates += [Gate("rx", (j,), (x(2 * j),)), Gate("ry", (j,), (x(2 * j + 1),))]
            return gates
        return []

    def conv_gates(self, layer: int, a: int, b: int) -> list[Gate]:
        """Convolution block of layer ``layer`` (0-based) on wires ``(a, b)``."""
        return CONV_ANSATZE[self.ansatz][1](a, b, self.conv_offset(layer))

    def pool_gates(self, layer: int, control: int, target: int) -> list[Gate]:
        """Pooling unit of layer ``layer`` (0-based), ``control`` discarded."""
        return pool(control, target, self.pool_offset(layer))

    def ansatz_gates(self) -> list[Gate]:
        """The trainable part: conv then pool, layer by layer (weights only)."""
        gates: list[Gate] = []
        for layer, (conv, pools) in enumerate(self.layers):
            for a, b in conv:
                gates += self.conv_gates(layer, a, b)
            for c, t in pools:
                gates += self.pool_gates(layer, c, t)
        return gates

    def gates(self) -> list[Gate]:
        """The whole circuit: :meth:`encoding_gates` then :meth:`ansatz_gates`."""
        return self.encoding_gates() + self.ansatz_gates()

    @property
    def n_two_qubit_gates(self) -> int:
        """Two-qubit gates in :meth:`ansatz_gates` as written (CRZ/CRX count 1)."""
        return sum(1 for g in self.ansatz_gates() if GATES[g.name][0] == 2)

    @property
    def n_cnot_equivalent(self) -> int:
        """Two-qubit gates after decomposing CRZ/CRX into 2 CNOTs each (SU(4), 8 qubits: 67)."""
        cost = {"crz": 2, "crx": 2}
        return sum(cost.get(g.name, 1) for g in self.ansatz_gates() if GATES[g.name][0] == 2)

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, saved with a model."""
        return {"n_qubits": self.n_qubits, "ansatz": self.ansatz, "encoding": self.encoding}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "QCNNSpec":
        """Inverse of :meth:`to_dict`.

        Raises:
            ModelError: for unknown keys or invalid values.
        """
        if not isinstance(data, Mapping):
            raise ModelError(f"QCNN spec must be a mapping, but got {type(data).__name__}.")
        unknown = sorted(set(data) - {"n_qubits", "ansatz", "encoding"})
        if unknown:
            raise ModelError(
                f"QCNN spec has unknown keys {unknown}; allowed: n_qubits, ansatz, encoding."
            )
        return cls(**dict(data))
