"""Exact density-matrix emulation of compiled circuits with the noise model's channels.

The reference emulator: exact probabilities of reading 1, no statistical error,
cost growing as ``4**n`` (used up to :data:`MAX_QUBITS` qubits). It applies
the channels of :class:`~qml_ops.hardware.emulator.noise.NoiseParams` in torch
to many samples at once:

* Depolarizing channels commute with unitaries on the same qubits and with each
  other, so each run of one-qubit gates is fused into the preceding two-qubit
  gate (or into a head block) with the product of the ``λ`` factors.
* Any other channel (bit flip, amplitude or phase damping, …) is applied at its
  place as a Kraus sum, ``ρ → Σ K ρ K†`` (``O → Σ K† O K`` backwards); it ends
  the fusion on its qubit.
* Each qubit's *head* (its gates and one-qubit channels before anything
  entangles it) is folded into its initial one-qubit state.
* When all samples share their gates except in those heads (what
  :mod:`qml_ops.hardware.compile` produces for angle encodings), the readout
  projector is propagated backwards once (Heisenberg picture) and contracted
  with each sample's product state: one operator instead of one density matrix
  per sample. Otherwise the batch of density matrices is evolved forwards from
  the product states (chunked to bound memory).

Example:
    >>> p1 = exact_p1(compiled, NoiseParams.from_profile(profile))   # doctest: +SKIP
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from qml_ops.errors import HardwareError
from qml_ops.hardware.emulator.noise import NoiseParams
from qml_ops.hardware.emulator.program import group_circuits
from qml_ops.hardware.emulator.settings import DENSITY_MATRIX_MAX_QUBITS as MAX_QUBITS

__all__ = ["MAX_QUBITS", "exact_p1", "torch_threads"]

_MAX_CHUNK_BYTES = 256 * 2**20


# --------------------------------------------------------------- fused program

@dataclass
class _Block:
    qubits: tuple[int, ...]  # axes (indices into the active qubits)
    unitary: torch.Tensor  # (B, d, d) or (1, d, d) when shared
    lam_pair: float  # 2-qubit depolarizing shrink (1.0 for none / 1-qubit blocks)
    lam: dict[int, float]  # per axis 1-qubit depolarizing shrink
    varying: bool


@dataclass
class _ChannelStep:
    """A non-depolarizing channel applied at its place (Kraus sum)."""

    qubits: tuple[int, ...]  # axes
    kraus: torch.Tensor  # (m, d, d)


def _fuse(group, axes: dict[int, int], noise: NoiseParams) -> tuple[dict[int, torch.Tensor], list]:
    """Each qubit's *head* (its gates and one-qubit channels before anything entangles it)
    becomes its initial one-qubit state; the rest is grouped into blocks: each qubit's
    1-qubit runs join the preceding 2-qubit gate, depolarizing channels become the blocks'
    ``λ`` factors, other channels own steps.

    Returns:
        ``(heads, items)``: axis -> ``(B or 1, 2, 2)`` head state (|0⟩⟨0| for a qubit
        without one), and the blocks and channel steps in time order.
    """
    n = len(axes)
    zero = torch.zeros(1, 2, 2, dtype=torch.complex128)
    zero[:, 0, 0] = 1
    heads = {a: zero for a in range(n)}
    in_head = set(range(n))
    items: list[_Block | _ChannelStep] = []
    last: dict[int, int] = {}  # axis -> index of the open block on it
    for step in noise.steps(group.structure):
        if step[0] == "noise":
            _, channel, qs = step
            ax = tuple(axes[q] for q in qs)
            if len(ax) == 1 and ax[0] in in_head:
                rho = heads[ax[0]]
                heads[ax[0]] = sum(k @ rho @ k.conj().T for k in torch.tensor(np.stack(channel.kraus)))
                continue
            if channel.depolarizing_lambda is not None:
                blk = items[last[ax[0]]]  # the block of the gate this channel follows
                if len(ax) == 1:
                    blk.lam[ax[0]] = blk.lam.get(ax[0], 1.0) * channel.depolarizing_lambda
                else:
                    blk.lam_pair *= channel.depolarizing_lambda
                continue
            in_head.difference_update(ax)
            items.append(_ChannelStep(ax, torch.tensor(np.stack(channel.kraus), dtype=torch.complex128)))
            for a in ax:
                last.pop(a, None)
            continue
        k = step[1]
        name, qs = group.structure[k]
        mat, varying = group.matrices(k)
        ax = tuple(axes[q] for q in qs)
        if len(qs) == 1 and ax[0] in in_head:
            heads[ax[0]] = mat @ heads[ax[0]] @ mat.conj().transpose(-1, -2)
            continue
        in_head.difference_update(ax)
        if len(qs) == 1:
            j = last.get(ax[0])
            if j is None:
                last[ax[0]] = len(items)
                items.append(_Block(ax, mat, 1.0, {}, varying))
                continue
            blk = items[j]
            if len(blk.qubits) == 2:
                mat = _embed(mat, blk.qubits.index(ax[0]))
            blk.unitary = mat @ blk.unitary
            blk.varying = blk.varying or varying
        else:
            last[ax[0]] = last[ax[1]] = len(items)
            items.append(_Block(ax, mat, 1.0, {}, varying))
    return heads, items


def _embed(mat: torch.Tensor, pos: int) -> torch.Tensor:
    """(B,2,2) one-qubit matrices as (B,4,4) on position ``pos`` of a pair."""
    eye = torch.eye(2, dtype=mat.dtype)
    if pos == 0:
        return torch.einsum("bij,kl->bikjl", mat, eye).reshape(-1, 4, 4)
    return torch.einsum("ij,bkl->bikjl", eye, mat).reshape(-1, 4, 4)


# ------------------------------------------------------- operator primitives
# An operator X has shape (B, 2,...,2 [rows, n axes], 2,...,2 [cols, n axes]).

def _apply_unitary(x: torch.Tensor, u: torch.Tensor, axes: tuple[int, ...], n: int,
                   adjoint: bool = False) -> torch.Tensor:
    """``U X U†`` (or ``U† X U`` with ``adjoint``) on the given qubit axes."""
    k = len(axes)
    b = x.shape[0]
    u = u.conj().transpose(-1, -2) if adjoint else u
    ut = u.reshape(u.shape[0], *([2] * (2 * k)))
    letters = "abcdefghijklmnopqrstuvwxyz"
    # indices: batch 'Z', row axes letters[0:n], col axes letters[n:2n]
    row = list(letters[:n])
    col = list(letters[n:2 * n])
    xin = "Z" + "".join(row) + "".join(col)
    new_r = [chr(ord("A") + i) for i in range(k)]
    new_c = [chr(ord("A") + k + i) for i in range(k)]
    ub = "Z" if u.shape[0] == b and b > 1 else ""
    # left: U[new_r, old_r]
    u_left = ub + "".join(new_r) + "".join(row[a] for a in axes)
    out_r = row.copy()
    for i, a in enumerate(axes):
        out_r[a] = new_r[i]
    y = torch.einsum(f"{u_left},{xin}->Z{''.join(out_r)}{''.join(col)}",
                     ut if ub else ut[0], x)
    # right: X U† -> conj(U)[new_c, old_c]
    u_right = ub + "".join(new_c) + "".join(col[a] for a in axes)
    out_c = col.copy()
    for i, a in enumerate(axes):
        out_c[a] = new_c[i]
    return torch.einsum(f"{u_right},Z{''.join(out_r)}{''.join(col)}->Z{''.join(out_r)}{''.join(out_c)}",
                        (ut if ub else ut[0]).conj(), y)


def _depolarize(x: torch.Tensor, axes: tuple[int, ...], lam: float, n: int) -> torch.Tensor:
    """``λX + (1-λ)·I/d ⊗ Tr_axes X`` in place (self-adjoint: the same map in both pictures)."""
    if lam == 1.0:
        return x
    x = x.contiguous()
    b = x.shape[0]
    # view rows and cols as (before, axis, between, axis, after) blocks of sizes 2^k
    shape = [b]
    cuts, prev = [], 0
    for a in sorted(axes):
        shape += [2**(a - prev), 2]
        cuts.append(len(shape) - 1)
        prev = a + 1
    shape.append(2**(n - prev))
    m = len(shape) - 1
    xv = x.view(shape + shape[1:])
    diag = []
    for bits in np.ndindex(*(2,) * len(axes)):
        idx = [slice(None)] * len(xv.shape)
        for c, bit in zip(cuts, bits):
            idx[c] = bit
            idx[c + m] = bit
        diag.append(xv[tuple(idx)])
    tr = diag[0].clone()
    for d in diag[1:]:
        tr.add_(d)
    x.mul_(lam)
    w = (1 - lam) / 2 ** len(axes)
    for d in diag:
        d.add_(tr, alpha=w)
    return x


def _apply_block(x, blk: _Block, n: int, adjoint: bool) -> torch.Tensor:
    if adjoint:  # channel order reversed: noise first, then U†
        for a, lam in blk.lam.items():
            x = _depolarize(x, (a,), lam, n)
        if len(blk.qubits) == 2:
            x = _depolarize(x, blk.qubits, blk.lam_pair, n)
        return _apply_unitary(x, blk.unitary, blk.qubits, n, adjoint=True)
    x = _apply_unitary(x, blk.unitary, blk.qubits, n)
    if len(blk.qubits) == 2:
        x = _depolarize(x, blk.qubits, blk.lam_pair, n)
    for a, lam in blk.lam.items():
        x = _depolarize(x, (a,), lam, n)
    return x


def _apply_item(x, item: _Block | _ChannelStep, n: int, adjoint: bool) -> torch.Tensor:
    """One fused block or channel step, forwards (on ρ) or backwards (on an observable)."""
    if isinstance(item, _ChannelStep):
        kraus = item.kraus.to(x.dtype)
        out = None
        for k in kraus:
            term = _apply_unitary(x, k[None], item.qubits, n, adjoint=adjoint)
            out = term if out is None else out.add_(term)
        return out
    return _apply_block(x, item, n, adjoint)


# ---------------------------------------------------------------- simulation

def _group_p1_heisenberg(items: list, heads: dict[int, torch.Tensor], n: int, readout_axis: int,
                         nb: int) -> torch.Tensor:
    """P(1) on the readout axis before readout error, via one backward operator
    contracted with each sample's product of head states."""
    proj = torch.zeros(2, 2, dtype=torch.complex128)
    proj[1, 1] = 1
    eye = torch.eye(2, dtype=torch.complex128)
    full = None
    for a in range(n):
        m = proj if a == readout_axis else eye
        full = m if full is None else torch.kron(full, m)
    # kron ordering: axis 0 is the most significant -> matches (2,)*n row layout
    obs = full.reshape((2,) * (2 * n))[None]
    for item in reversed(items):
        obs = _apply_item(obs, item, n, adjoint=True)
    states = [heads[a] for a in range(n)]
    # contract shared states first (batch 1), the per-sample ones last
    order = sorted(range(n), key=lambda a: states[a].shape[0] > 1)
    t = obs[0]
    remaining = list(range(n))  # axis positions in t: rows then cols of remaining
    batched = False
    for a in order:
        pos = remaining.index(a)
        m = len(remaining)
        rho = states[a]
        off = 1 if batched else 0
        # t[..., i (row pos), ..., j (col pos), ...] * rho[j, i]
        t = torch.movedim(t, [off + pos, off + m + pos], [-2, -1])
        if rho.shape[0] > 1 and not batched:
            t = torch.einsum("...ij,bji->b...", t, rho)
            batched = True
        elif batched and rho.shape[0] > 1:
            t = torch.einsum("b...ij,bji->b...", t, rho)
        else:
            t = torch.einsum("...ij,ji->...", t, rho[0])
        remaining.pop(pos)
    p = t.real if batched else t.real.expand(nb)
    return p.reshape(nb)


def _product_rho(heads: dict[int, torch.Tensor], n: int, start: int, stop: int, dtype) -> torch.Tensor:
    """``(stop-start, 2,…,2 [rows], 2,…,2 [cols])`` product of the head states of samples ``start:stop``."""
    b = stop - start
    rho = torch.ones(b, 1, 1, dtype=dtype)
    for a in range(n):
        h = heads[a]
        h = (h[start:stop] if h.shape[0] > 1 else h.expand(b, 2, 2)).to(dtype)
        m = rho.shape[-1]
        rho = (rho[:, :, None, :, None] * h[:, None, :, None, :]).reshape(b, 2 * m, 2 * m)
    return rho.reshape((b,) + (2,) * (2 * n))


def _group_p1_schrodinger(items: list, heads: dict[int, torch.Tensor], n: int, readout_axis: int, nb: int,
                          dtype: torch.dtype) -> torch.Tensor:
    """P(1) on the readout axis before readout error, evolving density matrices."""
    per_sample = 16 * 4**n
    chunk = max(1, min(nb, _MAX_CHUNK_BYTES // per_sample))
    out = []
    for start in range(0, nb, chunk):
        stop = min(nb, start + chunk)
        rho = _product_rho(heads, n, start, stop, dtype)
        for item in items:
            if isinstance(item, _Block):
                sub = item.unitary[start:stop] if item.unitary.shape[0] > 1 else item.unitary
                item = _Block(item.qubits, sub.to(dtype), item.lam_pair, item.lam, item.varying)
            rho = _apply_item(rho, item, n, adjoint=False)
        diag = torch.diagonal(rho.reshape(stop - start, 2**n, 2**n), dim1=-2, dim2=-1).real
        diag = diag.reshape((stop - start,) + (2,) * n)
        out.append(diag.select(1 + readout_axis, 1).reshape(stop - start, -1).sum(-1))
    return torch.cat(out).to(torch.float64)


@contextmanager
def torch_threads(n: int | None):
    """Run with ``n`` intra-op threads (restored afterwards); None leaves torch's setting."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def exact_p1(circuits: Sequence[Any], noise: NoiseParams, *, method: str = "auto",
             dtype: torch.dtype = torch.complex128, num_threads: int | None = 1) -> np.ndarray:
    """Exact probability of measuring 1 on each circuit's readout qubit, with noise.

    Args:
        circuits: :class:`~qml_ops.hardware.compile.CompiledCircuit` objects or
            verbatim Braket circuits measuring one qubit.
        noise: the channels (:meth:`NoiseParams.from_profile`).
        method: ``"auto"`` (Heisenberg when only leading one-qubit gates differ
            between samples), ``"heisenberg"`` or ``"schrodinger"``.
        dtype: complex dtype of the forward density matrices.
        num_threads: torch intra-op threads during the call (1 by default: the
            operators are small, and on shared cores extra threads mostly wait).

    Raises:
        HardwareError: a bad method, or a circuit on more than :data:`MAX_QUBITS` qubits.
    """
    with torch_threads(num_threads):
        return _exact_p1(circuits, noise, method, dtype)


def _exact_p1(circuits, noise, method, dtype) -> np.ndarray:
    if method not in ("auto", "heisenberg", "schrodinger"):
        raise HardwareError(f"method must be auto, heisenberg or schrodinger, but got {method!r}")
    groups = group_circuits(circuits)
    p1 = np.empty(sum(len(g.indices) for g in groups))
    for group in groups:
        n = group.n_qubits
        if n > MAX_QUBITS:
            raise HardwareError(f"the circuit uses {n} qubits; the density-matrix emulator handles <= "
                                f"{MAX_QUBITS} (the trajectory emulator handles more)")
        axes = group.axes
        heads, items = _fuse(group, axes, noise)
        shared = not any(isinstance(item, _Block) and item.varying for item in items)
        if method == "heisenberg" and not shared:
            raise HardwareError("samples differ beyond their leading one-qubit gates")
        nb = len(group.indices)
        if shared and method != "schrodinger":
            p = _group_p1_heisenberg(items, heads, n, axes[group.readout], nb)
        else:
            p = _group_p1_schrodinger(items, heads, n, axes[group.readout], nb, dtype)
        flip = noise.readout.get(group.readout, 0.0)
        p = p.clamp(0.0, 1.0).numpy()
        p1[group.indices] = (1 - flip) * p + flip * (1 - p)
    return p1
