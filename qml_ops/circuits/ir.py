"""A tiny gate-list intermediate representation shared by every backend.

The QCNN is specified once (:mod:`qml_ops.circuits.qcnn`) as a list of
:class:`Gate` records. Each backend translates the same list: the PennyLane
QNode (the reference), the batched torch simulator (training), and the
hardware compiler (Qiskit transpiler → Braket verbatim circuits).

A gate's parameters are *references*, not numbers, so one list serves every
sample and every parameter vector:

* ``("w", i)``: trainable weight ``i`` of the model;
* ``("x", j)``: input feature ``j`` of the sample (the encoding);
* ``("c", value)``: a constant angle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from qml_ops.circuits.gates import GATE_TABLE, IR_GATES

ParamRef = tuple[Literal["w", "x", "c"], float]

#: Gate vocabulary: name -> (number of wires, number of angle parameters), from
#: the IR gates of :data:`qml_ops.circuits.gates.GATE_TABLE` (PennyLane's
#: conventions; controlled gates take wires ``(control, target)``).
GATES: dict[str, tuple[int, int]] = {
    name: (GATE_TABLE[name].n_wires, GATE_TABLE[name].n_params) for name in IR_GATES
}


@dataclass(frozen=True)
class Gate:
    name: str
    wires: tuple[int, ...]
    params: tuple[ParamRef, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in GATES:
            raise ValueError(f"unknown gate {self.name!r}; allowed: {sorted(GATES)}")
        n_wires, n_params = GATES[self.name]
        if len(self.wires) != n_wires:
            raise ValueError(f"gate {self.name} takes {n_wires} wires, got {self.wires}")
        if len(self.params) != n_params:
            raise ValueError(f"gate {self.name} takes {n_params} params, got {self.params}")
        if len(set(self.wires)) != len(self.wires):
            raise ValueError(f"gate {self.name} has repeated wires {self.wires}")


def w(i: int) -> ParamRef:
    """Reference to trainable weight ``i``."""
    return ("w", i)


def x(j: int) -> ParamRef:
    """Reference to input feature ``j``."""
    return ("x", j)


def c(value: float) -> ParamRef:
    """A constant angle."""
    return ("c", float(value))


def resolve(ref: ParamRef, weights: Sequence[float], features: Sequence[float]) -> float:
    """Bind one parameter reference to a number (for one sample)."""
    kind, value = ref
    if kind == "w":
        return weights[int(value)]
    if kind == "x":
        return features[int(value)]
    return value
