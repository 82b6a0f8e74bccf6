"""Every gate qml-ops uses, defined once: wires, angles, matrix and library names.

One table, :data:`GATE_TABLE`, serves the circuit IR (:mod:`qml_ops.circuits.ir`),
the batched torch simulator (:mod:`qml_ops.simulation`), the hardware compiler
and the density-matrix emulator (:mod:`qml_ops.hardware`). Each
:class:`GateDef` holds

* the number of wires and of angle parameters;
* the matrix as a function of the angles, written once against an array
  namespace (``numpy`` or ``torch``): :func:`gate_matrix` evaluates it for
  numpy arrays or torch tensors of any leading (batch) shape, differentiably in
  torch;
* the gate's name in PennyLane, Qiskit and the Braket SDK, where those
  libraries have it (so every translation table is derived from here).

Conventions: gates of the circuit IR (``ir=True``) follow PennyLane's
definitions (``qml.RX``, ``qml.U3``, ``qml.CRZ``, …); QPU native gates
(``native=True``: the gates compiled circuits use on Braket) follow the Braket
SDK's (``braket.circuits.gates.PRx``, ``GPi``, ``GPi2``, ``ZZ``, ``ISwap``, …,
as in the Amazon Braket developer guide's native-gate tables). Where a gate is
both (``rx``, ``rz``, ``cz``) the two agree. Multi-qubit matrices use the basis
``|wire0 wire1⟩`` with the first wire most significant (a controlled gate's
first wire is the control). ``tests/circuits/test_gates.py`` checks every
entry against PennyLane's, Braket's and Qiskit's own matrices.

Example:
    >>> import numpy as np
    >>> gate_matrix("rz", np.array([0.0, np.pi])).shape
    (2, 2, 2)
    >>> import torch
    >>> theta = torch.tensor([0.3, 0.4], requires_grad=True)
    >>> u = gate_matrix("prx", theta, torch.tensor(0.1))     # (2, 2, 2) complex64
    >>> u.dtype, u.shape
    (torch.complex64, torch.Size([2, 2, 2]))
    >>> GATE_TABLE["u3"].pennylane, GATE_TABLE["zz"].braket
    ('U3', 'ZZ')
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["GateDef", "GATE_TABLE", "IR_GATES", "NATIVE_GATES", "gate_matrix"]

#: Matrix entries, row by row: numbers or arrays of one common shape.
Rows = list[list[Any]]

_SQRT_HALF = 2**-0.5


@dataclass(frozen=True)
class GateDef:
    """One gate.

    Attributes:
        name: the qml-ops name (lower case; Braket's spelling for native gates).
        n_wires: qubits it acts on.
        n_params: angle parameters, in the order the matrix function takes them.
        rows: ``(xp, *angles) -> rows of entries``; ``xp`` is ``numpy`` or
            ``torch`` (only ``xp.cos``, ``xp.sin``, ``xp.exp``, arithmetic and
            ``.conj()`` are used, so one definition serves both).
        ir: part of the circuit IR vocabulary (PennyLane's convention).
        native: a QPU native gate that compiled circuits use (Braket's convention).
        pennylane: ``pennylane`` operation name, if PennyLane has the gate.
        qiskit: ``QuantumCircuit`` method / standard gate name, if Qiskit has it.
        braket: ``braket.circuits.gates`` class name, if the Braket SDK has it.
    """

    name: str
    n_wires: int
    n_params: int
    rows: Callable[..., Rows]
    ir: bool = False
    native: bool = False
    pennylane: str | None = None
    qiskit: str | None = None
    braket: str | None = None

    @property
    def dim(self) -> int:
        """Matrix size, ``2 ** n_wires``."""
        return 2**self.n_wires


# ---------------------------------------------------------------- definitions
# Each function returns the rows of the matrix for angle arrays of one shape.


def _rx(xp, theta) -> Rows:
    c, s = xp.cos(theta / 2), xp.sin(theta / 2)
    return [[c, -1j * s], [-1j * s, c]]


def _ry(xp, theta) -> Rows:
    c, s = xp.cos(theta / 2), xp.sin(theta / 2)
    return [[c, -s], [s, c]]


def _rz(xp, theta) -> Rows:
    e = xp.exp(-0.5j * theta)
    return [[e, 0], [0, e.conj()]]


def _u3(xp, theta, phi, lam) -> Rows:
    c, s = xp.cos(theta / 2), xp.sin(theta / 2)
    e_phi, e_lam = xp.exp(1j * phi), xp.exp(1j * lam)
    return [[c, -e_lam * s], [e_phi * s, e_phi * e_lam * c]]


def _prx(xp, theta, phi) -> Rows:
    c, s = xp.cos(theta / 2), xp.sin(theta / 2)
    e = xp.exp(1j * phi)
    return [[c, -1j * e.conj() * s], [-1j * e * s, c]]


def _gpi(xp, phi) -> Rows:
    e = xp.exp(1j * phi)
    return [[0, e.conj()], [e, 0]]


def _gpi2(xp, phi) -> Rows:
    e = xp.exp(1j * phi) * _SQRT_HALF
    return [[_SQRT_HALF, -1j * e.conj()], [-1j * e, _SQRT_HALF]]


def _zz(xp, theta) -> Rows:
    e = xp.exp(-0.5j * theta)
    f = e.conj()
    return [[e, 0, 0, 0], [0, f, 0, 0], [0, 0, f, 0], [0, 0, 0, e]]


def _controlled(one_qubit: Callable[..., Rows]) -> Callable[..., Rows]:
    """The controlled form of a one-qubit gate (first wire controls)."""

    def rows(xp, *angles) -> Rows:
        (a, b), (c, d) = one_qubit(xp, *angles)
        return [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, a, b], [0, 0, c, d]]

    return rows


def _constant(matrix: Rows) -> Callable[..., Rows]:
    return lambda xp: matrix


_H = [[_SQRT_HALF, _SQRT_HALF], [_SQRT_HALF, -_SQRT_HALF]]
_X = [[0, 1], [1, 0]]
_CNOT = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
_CZ = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, -1]]
_ISWAP = [[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]]

_DEFS = [
    # name, wires, params, rows, flags and library names
    GateDef("h", 1, 0, _constant(_H), ir=True, pennylane="Hadamard", qiskit="h", braket="H"),
    GateDef("x", 1, 0, _constant(_X), ir=True, pennylane="PauliX", qiskit="x", braket="X"),
    GateDef("rx", 1, 1, _rx, ir=True, native=True, pennylane="RX", qiskit="rx", braket="Rx"),
    GateDef("ry", 1, 1, _ry, ir=True, pennylane="RY", qiskit="ry", braket="Ry"),
    GateDef("rz", 1, 1, _rz, ir=True, native=True, pennylane="RZ", qiskit="rz", braket="Rz"),
    # U3(θ, φ, λ): qml.U3 == Qiskit's U == Braket's U
    GateDef("u3", 1, 3, _u3, ir=True, pennylane="U3", qiskit="u", braket="U"),
    GateDef("cnot", 2, 0, _constant(_CNOT), ir=True, pennylane="CNOT", qiskit="cx",
            braket="CNot"),
    GateDef("cz", 2, 0, _constant(_CZ), ir=True, native=True, pennylane="CZ", qiskit="cz",
            braket="CZ"),
    GateDef("crx", 2, 1, _controlled(_rx), ir=True, pennylane="CRX", qiskit="crx"),
    GateDef("crz", 2, 1, _controlled(_rz), ir=True, pennylane="CRZ", qiskit="crz"),
    # native gates of IQM (prx, cz), Rigetti (rx, rz, cz or iswap) and IonQ (gpi, gpi2, zz)
    GateDef("prx", 1, 2, _prx, native=True, qiskit="r", braket="PRx"),
    GateDef("gpi", 1, 1, _gpi, native=True, braket="GPi"),
    GateDef("gpi2", 1, 1, _gpi2, native=True, braket="GPi2"),
    GateDef("zz", 2, 1, _zz, native=True, pennylane="IsingZZ", qiskit="rzz", braket="ZZ"),
    GateDef("iswap", 2, 0, _constant(_ISWAP), native=True, pennylane="ISWAP", qiskit="iswap",
            braket="ISwap"),
]

#: Every gate by name.
GATE_TABLE: dict[str, GateDef] = {d.name: d for d in _DEFS}
#: The circuit IR's vocabulary (PennyLane conventions), in table order.
IR_GATES: tuple[str, ...] = tuple(d.name for d in _DEFS if d.ir)
#: QPU native gates the compiler emits and the emulator runs (Braket conventions).
NATIVE_GATES: tuple[str, ...] = tuple(d.name for d in _DEFS if d.native)


# ---------------------------------------------------------------- evaluation


def _torch_module():
    return sys.modules.get("torch")


def _is_torch(angles, dtype) -> bool:
    torch = _torch_module()
    if torch is None:
        return False
    return isinstance(dtype, torch.dtype) or any(isinstance(a, torch.Tensor) for a in angles)


def _torch_matrix(d: GateDef, angles, dtype, device):
    import torch

    if not angles:
        return torch.tensor(d.rows(torch), dtype=dtype or torch.complex128, device=device)
    ref = next((a for a in angles if isinstance(a, torch.Tensor)), None)
    if ref is None or not (ref.is_floating_point() or ref.is_complex()):
        real = torch.float32 if dtype == torch.complex64 else torch.float64
        ref_device = device if ref is None else ref.device
    else:
        real, ref_device = ref.dtype, ref.device
    angles = [a if isinstance(a, torch.Tensor) and a.dtype == real
              else torch.as_tensor(a, dtype=real, device=ref_device) for a in angles]
    if len({tuple(a.shape) for a in angles}) > 1:
        angles = torch.broadcast_tensors(*angles)
    shape = angles[0].shape
    cdtype = dtype or (torch.complex64 if real == torch.float32 else torch.complex128)
    constants: dict[complex, Any] = {}
    entries = []
    for row in d.rows(torch, *angles):
        for e in row:
            if isinstance(e, torch.Tensor):
                entries.append(e)
            else:
                if e not in constants:
                    constants[e] = torch.full(shape, e, dtype=cdtype, device=ref_device)
                entries.append(constants[e])
    out = torch.stack(entries, -1).unflatten(-1, (d.dim, d.dim))
    return out if out.dtype == cdtype else out.to(cdtype)


def _numpy_matrix(d: GateDef, angles, dtype):
    dtype = np.dtype(dtype or np.complex128)
    if not angles:
        return np.array(d.rows(np), dtype=dtype)
    angles = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in angles))
    shape = angles[0].shape
    entries = [np.broadcast_to(np.asarray(e, dtype=dtype), shape)
               for row in d.rows(np, *angles) for e in row]
    return np.stack(entries, -1).reshape(shape + (d.dim, d.dim))


def gate_matrix(name: str, *angles: Any, dtype: Any = None, device: Any = None):
    """The matrix of gate ``name`` for the given angles.

    Args:
        name: a gate of :data:`GATE_TABLE`.
        *angles: its ``n_params`` angles: numbers, numpy arrays or torch tensors
            of one (broadcastable) shape ``S``. Torch tensors keep their
            autograd graph; numbers and numpy arrays give a numpy result.
        dtype: complex dtype of the result (a numpy or torch dtype). Default:
            ``complex128`` for numpy, for torch the complex type matching the
            angles (``float32`` -> ``complex64``). A torch dtype selects torch
            for a gate without angles.
        device: torch device of a gate without angles (else the angles' device).

    Returns:
        An array of shape ``S + (2**n_wires, 2**n_wires)``; a gate without
        angles gives the single ``(d, d)`` matrix.

    Raises:
        ValueError: for an unknown gate or a wrong number of angles.
    """
    d = GATE_TABLE.get(name)
    if d is None:
        raise ValueError(f"unknown gate {name!r}; allowed: {sorted(GATE_TABLE)}")
    if len(angles) != d.n_params:
        raise ValueError(f"gate {name} takes {d.n_params} angles, got {len(angles)}")
    if _is_torch(angles, dtype):
        return _torch_matrix(d, angles, dtype, device)
    return _numpy_matrix(d, angles, dtype)
