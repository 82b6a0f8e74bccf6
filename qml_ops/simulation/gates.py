"""Gate matrices in torch, built in batches, and small-tensor gate application.

Every builder takes angle tensors of one common shape ``S`` and returns complex
matrices of shape ``S + (2, 2)`` (one-qubit) or ``S + (4, 4)`` (two-qubit, basis
``|wire0 wire1⟩``, first wire most significant), following PennyLane's
conventions. The constant gates take no angles.

:func:`block_matrix` turns an IR gate list on two wires into its 4×4 unitary,
for several parameter sets at once (e.g. the convolution block of every layer).

Example:
    >>> import torch
    >>> from qml_ops.circuits.ansatz import CONV_ANSATZE
    >>> gates = CONV_ANSATZE[1][1](0, 1, 0)           # RY, RY, CNOT on wires (0, 1)
    >>> U = block_matrix(gates, (0, 1), torch.zeros(3, 2), torch.complex128)
    >>> tuple(U.shape)
    (3, 4, 4)
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from qml_ops.circuits.ir import Gate

__all__ = [
    "PARAM_GATES",
    "CONST_GATES",
    "block_matrix",
    "swap_pair",
    "apply_small",
    "real_dtype",
]


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching complex ``dtype`` (complex64 -> float32)."""
    return {torch.complex64: torch.float32, torch.complex128: torch.float64}[dtype]


def _mat(entries: list[torch.Tensor], n: int) -> torch.Tensor:
    return torch.stack(entries, dim=-1).unflatten(-1, (n, n))


def _cs(theta: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    half = theta / 2
    return torch.cos(half).to(dtype), torch.sin(half).to(dtype)


def _phase(angle: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.polar(torch.ones_like(angle), angle).to(dtype)


def _rx(dtype, t):
    c, s = _cs(t, dtype)
    return _mat([c, -1j * s, -1j * s, c], 2)


def _ry(dtype, t):
    c, s = _cs(t, dtype)
    return _mat([c, -s, s, c], 2)


def _rz(dtype, t):
    p = _phase(-t / 2, dtype)
    z = torch.zeros_like(p)
    return _mat([p, z, z, p.conj()], 2)


def _u3(dtype, theta, phi, lam):
    c, s = _cs(theta, dtype)
    e_phi, e_lam = _phase(phi, dtype), _phase(lam, dtype)
    return _mat([c, -e_lam * s, e_phi * s, e_phi * e_lam * c], 2)


def _controlled(one: Callable) -> Callable:
    def build(dtype, t):
        r = one(dtype, t)
        out = torch.zeros(t.shape + (4, 4), dtype=dtype, device=t.device)
        out[..., 0, 0] = 1
        out[..., 1, 1] = 1
        out[..., 2:, 2:] = r
        return out

    return build


#: Parametric gates: IR name -> builder ``(dtype, *angles) -> matrices``.
PARAM_GATES: dict[str, Callable[..., torch.Tensor]] = {
    "rx": _rx,
    "ry": _ry,
    "rz": _rz,
    "u3": _u3,
    "crx": _controlled(_rx),
    "crz": _controlled(_rz),
}

_SQ2 = 2**-0.5
#: Constant gates: IR name -> matrix entries (row-major).
CONST_GATES: dict[str, list[list[float]]] = {
    "h": [[_SQ2, _SQ2], [_SQ2, -_SQ2]],
    "x": [[0, 1], [1, 0]],
    "cnot": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]],
    "cz": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, -1]],
}


def swap_pair(m: torch.Tensor) -> torch.Tensor:
    """``SWAP @ m @ SWAP`` for ``(..., 4, 4)``: the same gate with its wires exchanged."""
    shape = m.shape
    return m.reshape(shape[:-2] + (2, 2, 2, 2)).transpose(-4, -3).transpose(-2, -1).reshape(shape)


def gate_matrix(gate: Gate, angles: Sequence[torch.Tensor], dtype: torch.dtype, device) -> torch.Tensor:
    """Matrix of one IR gate; ``angles`` are the bound parameter tensors (same shape)."""
    if gate.name in CONST_GATES:
        return torch.tensor(CONST_GATES[gate.name], dtype=dtype, device=device)
    return PARAM_GATES[gate.name](dtype, *angles)


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
        g = gate_matrix(gate, angles, dtype, device)
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
