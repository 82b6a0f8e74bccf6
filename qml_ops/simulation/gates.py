"""Gate matrices in torch for the simulator: block unitaries and small-tensor application.

The matrices themselves come from the one gate table,
:mod:`qml_ops.circuits.gates` (PennyLane's conventions for IR gates; shape
``S + (2, 2)`` or ``S + (4, 4)`` for angle tensors of shape ``S``, basis
``|wire0 wire1⟩``, first wire most significant). This module adds what the
simulator needs on top: :func:`block_matrix` turns an IR gate list on two
wires into its 4×4 unitary for several parameter sets at once (e.g. the
convolution block of every layer), :func:`swap_pair` exchanges a pair's wires
and :func:`apply_small` applies a gate to a small state tensor.

Example:
    >>> import torch
    >>> from qml_ops.circuits.ansatz import CONV_ANSATZE
    >>> gates = CONV_ANSATZE[1][1](0, 1, 0)           # RY, RY, CNOT on wires (0, 1)
    >>> U = block_matrix(gates, (0, 1), torch.zeros(3, 2), torch.complex128)
    >>> tuple(U.shape)
    (3, 4, 4)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch

from qml_ops.circuits.gates import GATE_TABLE
from qml_ops.circuits.gates import gate_matrix as _table_matrix
from qml_ops.circuits.ir import Gate

__all__ = [
    "gate_matrix",
    "block_matrix",
    "swap_pair",
    "apply_small",
    "real_dtype",
]


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching complex ``dtype`` (complex64 -> float32)."""
    return {torch.complex64: torch.float32, torch.complex128: torch.float64}[dtype]


@lru_cache(maxsize=64)
def _constant_matrix(name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A gate without angles, built once per dtype and device (read-only: never
    modified in place by the simulator)."""
    return _table_matrix(name, dtype=dtype, device=device)


def gate_matrix(name: str, angles: Sequence[torch.Tensor], dtype: torch.dtype,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Matrix of gate ``name`` from :data:`~qml_ops.circuits.gates.GATE_TABLE`.

    Args:
        name: the gate.
        angles: its bound angle tensors (one common shape ``S``; real dtype
            matching ``dtype``); differentiable.
        dtype: complex dtype of the result.
        device: device of a gate without angles (default: CPU).

    Returns:
        ``S + (d, d)``, or ``(d, d)`` for a gate without angles.
    """
    if GATE_TABLE[name].n_params == 0:
        return _constant_matrix(name, dtype, torch.device(device or "cpu"))
    return _table_matrix(name, *angles, dtype=dtype)


def swap_pair(m: torch.Tensor) -> torch.Tensor:
    """``SWAP @ m @ SWAP`` for ``(..., 4, 4)``: the same gate with its wires exchanged."""
    shape = m.shape
    return m.reshape(shape[:-2] + (2, 2, 2, 2)).transpose(-4, -3).transpose(-2, -1).reshape(shape)


def block_matrix(
    gates: Sequence[Gate],
    wires: tuple[int, int],
    weights: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Unitary of a two-wire block, for ``L`` parameter sets at once.

    Args:
        gates: IR gates acting only on ``wires``; their ``("w", i)`` refer to
            column ``i`` of ``weights`` (so build the block with offset 0) and
            ``("c", v)`` to constants. Feature references are not allowed.
        wires: ``(a, b)``: ``a`` is the most significant bit of the 4×4 basis.
        weights: ``(L, n_params)`` real tensor.
        dtype: complex dtype of the result.

    Returns:
        ``(L, 4, 4)`` complex tensor ``U`` with ``U[l] = G_k ... G_1`` for set ``l``.
    """
    n_sets = weights.shape[0]
    device = weights.device
    mat = torch.eye(4, dtype=dtype, device=device).expand(n_sets, 4, 4)
    for gate in gates:
        angles = []
        for kind, value in gate.params:
            if kind == "w":
                angles.append(weights[:, int(value)])
            elif kind == "c":
                angles.append(torch.full((n_sets,), value, dtype=weights.dtype, device=device))
            else:
                raise ValueError(f"block gates cannot read features, got {gate}")
        g = gate_matrix(gate.name, angles, dtype, device)
        if len(gate.wires) == 2:
            if gate.wires != wires:
                g = swap_pair(g)
            mat = g @ mat
        elif gate.wires[0] == wires[0]:  # acts on the high bit: rows (2, 2*4)
            mat = (g @ mat.reshape(n_sets, 2, 8)).reshape(n_sets, 4, 4)
        else:  # low bit: (L, 2 high, 2 low, 4 cols)
            mat = (g.unsqueeze(-3) @ mat.reshape(n_sets, 2, 2, 4)).reshape(n_sets, 4, 4)
    return mat


def apply_small(state: torch.Tensor, gate: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """Apply a gate to tensor axes with ``einsum`` (for small tensors, autograd-friendly).

    Args:
        state: tensor whose axes ``axes`` have size 2 each (other axes are batch).
        gate: ``(2**k, 2**k)`` or batched ``(B, 2**k, 2**k)`` with ``B`` matching
            ``state``'s axis 0, for ``k = len(axes)``.
        axes: the qubit axes the gate acts on, most significant first.

    Returns:
        The new tensor, same layout.
    """
    k = len(axes)
    letters = "abcdefghijklmnopqrstuvwxyz"
    idx = list(letters[: state.dim()])
    out_idx = list(idx)
    new = "ABCDEFGH"[:k]
    for j, ax in enumerate(axes):
        out_idx[ax] = new[j]
    ins = "".join(idx[ax] for ax in axes)
    g = gate.reshape(gate.shape[:-2] + (2,) * (2 * k))
    gspec = ("a" if gate.dim() == 3 else "") + "".join(new) + ins
    return torch.einsum(f"{gspec},{''.join(idx)}->{''.join(out_idx)}", g, state)
