"""The QCNN's two-qubit building blocks: 9 convolution ansätze and the pooling unit.

Each block is a function ``(a, b, weight_offset) -> list[Gate]`` that places the
unit on wires ``a`` and ``b`` and reads its angles from the weight vector at
``weight_offset, weight_offset + 1, ...`` (in the order the gates use them).
Gate orders follow Hur, Kim & Park (2022), code ``takh04/QCNN`` (``unitary.py``):

====  ===========  ======  =================================================
 no.  Hur's name   params  gates (a = first wire, b = second wire)
====  ===========  ======  =================================================
  1   U_TTN          2     RY a, RY b, CNOT a→b
  2   U_9            2     H a, H b, CZ, RX a, RX b
  3   U_15           4     RY a, RY b, CNOT b→a, RY a, RY b, CNOT a→b
  4   U_13           6     RY a, RY b, CRZ b→a, RY a, RY b, CRZ a→b
  5   U_14           6     as 4 with CRX
  6   U_SO4          6     RY a, RY b, CNOT a→b, RY a, RY b, CNOT a→b, RY a, RY b
  7   U_5           10     RX a, RX b, RZ a, RZ b, CRZ b→a, CRZ a→b,
                           RX a, RX b, RZ a, RZ b
  8   U_6           10     as 7 with CRX
  9   U_SU4         15     U3 a, U3 b, CNOT a→b, RY a, RZ b, CNOT b→a, RY a,
                           CNOT a→b, U3 a, U3 b
====  ===========  ======  =================================================

Pooling (``Pooling_ansatz1``, 2 params) on ``(c, t)`` where ``c`` is the qubit
that is discarded afterwards: CRZ(θ0) c→t, X c, CRX(θ1) c→t.

Example:
    >>> n_params, conv = CONV_ANSATZE[1]
    >>> [g.name for g in conv(0, 7, weight_offset=0)]
    ['ry', 'ry', 'cnot']
    >>> pool(1, 0, weight_offset=45)[0]
    Gate(name='crz', wires=(1, 0), params=(('w', 45),))
"""

from __future__ import annotations

from typing import Callable

from qml_ops.circuits.ir import Gate, w

#: A two-qubit block: ``(a, b, weight_offset) -> gates``.
Block = Callable[[int, int, int], list[Gate]]

__all__ = ["Block", "CONV_ANSATZE", "POOL_N_PARAMS", "pool", "conv_block"]


def _ttn(a: int, b: int, weight_offset: int) -> list[Gate]:
    o = weight_offset
    return [Gate("ry", (a,), (w(o),)), Gate("ry", (b,), (w(o + 1),)), Gate("cnot", (a, b))]


def _h_cz_rx(a: int, b: int, weight_offset: int) -> list[Gate]:
    o = weight_offset
    return [
        Gate("h", (a,)),
        Gate("h", (b,)),
        Gate("cz", (a, b)),
        Gate("rx", (a,), (w(o),)),
        Gate("rx", (b,), (w(o + 1),)),
    ]


def _ry_cnot(a: int, b: int, weight_offset: int) -> list[Gate]:
    o = weight_offset
    return [
        Gate("ry", (a,), (w(o),)),
        Gate("ry", (b,), (w(o + 1),)),
        Gate("cnot", (b, a)),
        Gate("ry", (a,), (w(o + 2),)),
        Gate("ry", (b,), (w(o + 3),)),
        Gate("cnot", (a, b)),
    ]


def _ry_controlled(name: str) -> Block:
    def block(a: int, b: int, weight_offset: int) -> list[Gate]:
        o = weight_offset
        return [
            Gate("ry", (a,), (w(o),)),
            Gate("ry", (b,), (w(o + 1),)),
            Gate(name, (b, a), (w(o + 2),)),
            Gate("ry", (a,), (w(o + 3),)),
            Gate("ry", (b,), (w(o + 4),)),
            Gate(name, (a, b), (w(o + 5),)),
        ]

    block.__doc__ = f"RY, RY, {name.upper()} b→a, RY, RY, {name.upper()} a→b (6 params)."
    return block


def _so4(a: int, b: int, weight_offset: int) -> list[Gate]:
    o = weight_offset
    return [
        Gate("ry", (a,), (w(o),)),
        Gate("ry", (b,), (w(o + 1),)),
        Gate("cnot", (a, b)),
        Gate("ry", (a,), (w(o + 2),)),
        Gate("ry", (b,), (w(o + 3),)),
        Gate("cnot", (a, b)),
        Gate("ry", (a,), (w(o + 4),)),
        Gate("ry", (b,), (w(o + 5),)),
    ]


def _rx_rz_controlled(name: str) -> Block:
    def block(a: int, b: int, weight_offset: int) -> list[Gate]:
        o = weight_offset
        return [
            Gate("rx", (a,), (w(o),)),
            Gate("rx", (b,), (w(o + 1),)),
            Gate("rz", (a,), (w(o + 2),)),
            Gate("rz", (b,), (w(o + 3),)),
            Gate(name, (b, a), (w(o + 4),)),
            Gate(name, (a, b), (w(o + 5),)),
            Gate("rx", (a,), (w(o + 6),)),
            Gate("rx", (b,), (w(o + 7),)),
            Gate("rz", (a,), (w(o + 8),)),
            Gate("rz", (b,), (w(o + 9),)),
        ]

    block.__doc__ = f"RX, RX, RZ, RZ, {name.upper()} b→a, {name.upper()} a→b, RX, RX, RZ, RZ (10)."
    return block


def _su4(a: int, b: int, weight_offset: int) -> list[Gate]:
    o = weight_offset
    return [
        Gate("u3", (a,), (w(o), w(o + 1), w(o + 2))),
        Gate("u3", (b,), (w(o + 3), w(o + 4), w(o + 5))),
        Gate("cnot", (a, b)),
        Gate("ry", (a,), (w(o + 6),)),
        Gate("rz", (b,), (w(o + 7),)),
        Gate("cnot", (b, a)),
        Gate("ry", (a,), (w(o + 8),)),
        Gate("cnot", (a, b)),
        Gate("u3", (a,), (w(o + 9), w(o + 10), w(o + 11))),
        Gate("u3", (b,), (w(o + 12), w(o + 13), w(o + 14))),
    ]


#: Convolution ansatz number (Hur, Kim & Park 2022 order, table above) -> (number of params, block).
CONV_ANSATZE: dict[int, tuple[int, Block]] = {
    1: (2, _ttn),
    2: (2, _h_cz_rx),
    3: (4, _ry_cnot),
    4: (6, _ry_controlled("crz")),
    5: (6, _ry_controlled("crx")),
    6: (6, _so4),
    7: (10, _rx_rz_controlled("crz")),
    8: (10, _rx_rz_controlled("crx")),
    9: (15, _su4),
}

#: Number of parameters of the pooling unit.
POOL_N_PARAMS = 2


def pool(control: int, target: int, weight_offset: int) -> list[Gate]:
    """The pooling unit: CRZ(θ0) c→t, X c, CRX(θ1) c→t.

    Args:
        control: the qubit discarded after pooling (``c``).
        target: the qubit kept (``t``).
        weight_offset: index of θ0 in the weight vector (θ1 follows it).

    Returns:
        The three gates.

    Example:
        >>> [g.name for g in pool(3, 2, 0)]
        ['crz', 'x', 'crx']
    """
    return [
        Gate("crz", (control, target), (w(weight_offset),)),
        Gate("x", (control,)),
        Gate("crx", (control, target), (w(weight_offset + 1),)),
    ]


def conv_block(ansatz: int) -> tuple[int, Block]:
    """Look up convolution ansatz ``ansatz`` (1..9): ``(n_params, block)``.

    Raises:
        KeyError: for an unknown number (:class:`~qml_ops.circuits.qcnn.QCNNSpec`
            validates user input before calling this).
    """
    return CONV_ANSATZE[ansatz]
