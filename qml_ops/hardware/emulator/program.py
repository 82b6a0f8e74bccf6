"""What both emulators read from a compiled circuit: native ops, grouped by structure.

A compiled circuit is a list of native ops ``(gate, qubits, angles)`` and one
measured qubit (:class:`~qml_ops.hardware.compile.CompiledCircuit`, or a
verbatim Braket circuit). Samples of one model share their gate sequence and
differ only in angles (and, for angle encodings, only in the leading one-qubit
gates), so circuits are grouped by *structure* (gate names, qubits, readout
qubit) and each group is emulated as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from qml_ops.circuits.gates import GATE_TABLE, NATIVE_GATES, gate_matrix
from qml_ops.errors import HardwareError

__all__ = ["circuit_ops", "Group", "group_circuits", "native_matrices"]


def native_matrices(name: str, angles: torch.Tensor, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """``(B, d, d)`` matrices of native gate ``name`` from ``(B, n_angles)`` float64
    angles (``(1, d, d)`` for a gate without angles, shared by the batch)."""
    if GATE_TABLE[name].n_params == 0:
        return gate_matrix(name, dtype=dtype)[None]
    return gate_matrix(name, *angles.unbind(-1), dtype=dtype)


def _braket_angles(op: Any, n_params: int) -> tuple[float, ...]:
    """The angles of a Braket gate object, in the gate table's order."""
    if n_params == 1:
        return (float(op.angle),)
    return tuple(float(getattr(op, f"angle_{i + 1}")) for i in range(n_params))


#: Braket gate class name -> native gate name (``PRx`` -> ``prx``).
_FROM_BRAKET = {GATE_TABLE[name].braket: name for name in NATIVE_GATES}


def circuit_ops(circuit: Any) -> tuple[list[tuple], int]:
    """``(ops, readout_qubit)`` of a compiled circuit or a verbatim Braket circuit
    that measures one qubit."""
    if hasattr(circuit, "ops") and hasattr(circuit, "readout_qubit"):
        return list(circuit.ops), int(circuit.readout_qubit)
    from braket.circuits.gate import Gate as BraketGate
    from braket.circuits.measure import Measure

    ops, measured = [], []
    for ins in circuit.instructions:
        op = ins.operator
        if isinstance(op, Measure):
            measured += [int(q) for q in ins.target]
        elif isinstance(op, BraketGate):
            name = _FROM_BRAKET.get(type(op).__name__)
            if name is None:
                raise HardwareError(f"gate {op.name} is not supported by the torch emulator; "
                                    f"supported: {sorted(NATIVE_GATES)}")
            angles = _braket_angles(op, GATE_TABLE[name].n_params)
            ops.append((name, tuple(int(q) for q in ins.target), angles))
    if len(measured) != 1:
        raise HardwareError(f"the circuit must measure exactly one qubit, but measures {measured}")
    return ops, measured[0]


@dataclass
class Group:
    """Circuits of one structure.

    Attributes:
        structure: ``(gate name, physical qubits)`` per op, in time order.
        readout: the measured physical qubit.
        indices: positions of the group's circuits in the input list.
        ops: each circuit's ops (same structure, own angles).
        qubits: the physical qubits used, sorted; ``axes`` maps each to its index.
    """

    structure: tuple[tuple[str, tuple[int, ...]], ...]
    readout: int
    indices: list[int]
    ops: list[list[tuple]]

    @property
    def qubits(self) -> list[int]:
        return sorted({q for _, qs in self.structure for q in qs} | {self.readout})

    @property
    def axes(self) -> dict[int, int]:
        return {q: i for i, q in enumerate(self.qubits)}

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)

    def angles(self, k: int) -> tuple[torch.Tensor, bool]:
        """``(B, n_angles)`` float64 angles of op ``k`` per circuit (``(1, …)`` when all
        circuits agree) and whether they vary between circuits."""
        angles = torch.tensor([ops[k][2] for ops in self.ops], dtype=torch.float64)
        if angles.ndim == 1:
            angles = angles[:, None]
        varying = len(self.ops) > 1 and angles.numel() > 0 and bool((angles != angles[:1]).any())
        return (angles if varying else angles[:1]), varying

    def matrices(self, k: int, dtype: torch.dtype = torch.complex128) -> tuple[torch.Tensor, bool]:
        """``(B or 1, d, d)`` matrices of op ``k`` and whether they vary between circuits."""
        angles, varying = self.angles(k)
        return native_matrices(self.structure[k][0], angles, dtype), varying


def group_circuits(circuits: Sequence[Any]) -> list[Group]:
    """The circuits grouped by structure, in order of first appearance."""
    groups: dict[tuple, Group] = {}
    for i, circuit in enumerate(circuits):
        ops, readout = circuit_ops(circuit)
        structure = tuple((name, tuple(qs)) for name, qs, _ in ops)
        key = (structure, readout)
        if key not in groups:
            groups[key] = Group(structure, readout, [], [])
        groups[key].indices.append(i)
        groups[key].ops.append(ops)
    return list(groups.values())
