"""Batched density-matrix emulation of compiled circuits, with LocalEmulator's noise.

Braket's ``LocalEmulator`` (the reference, still selectable with
``backend="braket"``) installs three channels from a calibration profile:

* after every one-qubit gate on qubit ``q``: ``Depolarizing(p)`` with
  ``p = 3/2 · (1 - F1q[q])`` (RB fidelity), i.e. ``ρ → λρ + (1-λ)·I/2 ⊗ Tr_q ρ``
  with ``λ = 1 - 4p/3``;
* after a two-qubit gate ``g`` on a coupler ``a-b`` (either orientation) that
  lists a fidelity for ``g``: ``TwoQubitDepolarizing(p)`` with
  ``p = 5/4 · (1 - F2q)``, i.e. ``λ = 1 - 16p/15`` on the pair;
* before measuring qubit ``q``: ``BitFlip(1 - F_readout[q])``.

No noise on idle qubits, none on ``rz`` being virtual (Braket charges every gate).
This module applies exactly those channels, in torch, to many samples at once:

* Depolarizing channels commute with unitaries on the same qubits and with each
  other, so each run of one-qubit gates is fused into the preceding two-qubit
  gate (or into a head block) with the product of the ``λ`` factors.
* When all samples share their gates except for a leading layer of one-qubit
  gates (what :mod:`qml_ops.hardware.compile` produces for angle encodings),
  the readout projector is propagated backwards once (Heisenberg picture) and
  contracted with each sample's product state: one operator instead of one
  density matrix per sample. Otherwise the batch of density matrices is evolved
  forwards (chunked to bound memory).

The output per sample is the exact probability of reading 1 (readout error
included) and, with a seed, sampled counts for a number of shots.

Example:
    >>> from qml_ops.hardware.emulator import run_emulated
    >>> result = run_emulated(compiled, profile, shots=1000, seed=0)   # doctest: +SKIP
    >>> result.p1[:3], result.counts[:3], result.expval[:3]             # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from qml_ops.circuits.gates import GATE_TABLE, NATIVE_GATES, gate_matrix
from qml_ops.errors import HardwareError

__all__ = ["NoiseParams", "EmulationResult", "run_emulated", "exact_p1", "circuit_ops"]

BACKENDS = ("torch", "braket")
_MAX_CHUNK_BYTES = 256 * 2**20


# ------------------------------------------------------------------ noise model

@dataclass(frozen=True)
class NoiseParams:
    """LocalEmulator's channels as shrink factors.

    Attributes:
        one_qubit: qubit -> ``λ`` of the depolarizing channel after each
            one-qubit gate on it (1.0: no noise).
        two_qubit: ``(gate, a, b)`` -> ``λ`` after that gate on ``(a, b)``
            (both orientations present).
        readout: qubit -> bit-flip probability at measurement.
    """

    one_qubit: dict[int, float]
    two_qubit: dict[tuple[str, int, int], float]
    readout: dict[int, float]

    @classmethod
    def from_profile(cls, profile: Any) -> "NoiseParams":
        """The channels LocalEmulator derives from ``profile`` (same formulas)."""
        from braket.circuits.translations import BRAKET_GATES

        one = {int(q): 1.0 - 4.0 / 3.0 * (1.5 * (1.0 - float(f)))
               for q, f in profile.one_qubit_fidelity.items()}
        readout = {int(q): 1.0 - float(f) for q, f in profile.readout_fidelity.items()}
        two: dict[tuple[str, int, int], float] = {}
        for edge, gates in profile.two_qubit_fidelity.items():
            a, b = (int(v) for v in str(edge).split("-"))
            for gate, f in gates.items():
                name = str(gate).lower()
                if name not in BRAKET_GATES:
                    continue
                lam = 1.0 - 16.0 / 15.0 * (1.25 * (1.0 - float(f)))
                for key in ((name, a, b), (name, b, a)):
                    two[key] = two.get(key, 1.0) * lam
        return cls(one, two, readout)

    @classmethod
    def from_braket_noise_model(cls, noise_model: Any) -> "NoiseParams":
        """Read the channels off a Braket ``NoiseModel`` (e.g. ``LocalEmulator.noise_model``).

        Raises:
            HardwareError: for a channel or criterion outside LocalEmulator's basic model.
        """
        from braket.circuits.noise_model import GateCriteria
        from braket.circuits.noise_model.criteria import CriteriaKey, CriteriaKeyResult
        from braket.circuits.noise_model.measure_criteria import MeasureCriteria
        from braket.circuits.noise_model.observable_criteria import ObservableCriteria
        from braket.circuits.noises import BitFlip, Depolarizing, TwoQubitDepolarizing

        one: dict[int, float] = {}
        two: dict[tuple[str, int, int], float] = {}
        readout: dict[int, float] = {}
        for item in noise_model.instructions:
            noise, crit = item.noise, item.criteria
            if isinstance(crit, (MeasureCriteria, ObservableCriteria)):
                if isinstance(crit, MeasureCriteria) and isinstance(noise, BitFlip):
                    for q in crit.get_keys(CriteriaKey.QUBIT):
                        readout[int(q)] = noise.probability
                continue
            if not isinstance(crit, GateCriteria):
                raise HardwareError(f"noise criterion {crit} is not supported by the torch emulator")
            gates = crit.get_keys(CriteriaKey.GATE)
            qubits = crit.get_keys(CriteriaKey.QUBIT)
            if isinstance(noise, Depolarizing) and gates == CriteriaKeyResult.ALL:
                if qubits == CriteriaKeyResult.ALL:
                    raise HardwareError("device-wide 1-qubit noise is not supported")
                for q in qubits:
                    one[int(q)] = one.get(int(q), 1.0) * (1 - 4 * noise.probability / 3)
            elif isinstance(noise, TwoQubitDepolarizing) and gates != CriteriaKeyResult.ALL:
                for gate in gates:
                    for a, b in qubits:
                        key = (gate.__name__.lower(), int(a), int(b))
                        two[key] = two.get(key, 1.0) * (1 - 16 * noise.probability / 15)
            else:
                raise HardwareError(f"noise {noise} on {crit} is not supported by the torch emulator")
        return cls(one, two, readout)


# ----------------------------------------------------------------- gate matrices
# The native gates' matrices come from the one gate table (Braket's conventions).


def _native_matrices(name: str, angles: torch.Tensor) -> torch.Tensor:
    """``(B, d, d)`` complex128 matrices of native gate ``name`` from ``(B, n_angles)``
    float64 angles (``(1, d, d)`` for a gate without angles, shared by the batch)."""
    if GATE_TABLE[name].n_params == 0:
        return gate_matrix(name, dtype=torch.complex128)[None]
    return gate_matrix(name, *angles.unbind(-1), dtype=torch.complex128)


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


# --------------------------------------------------------------- fused program

@dataclass
class _Block:
    qubits: tuple[int, ...]  # axes (indices into the active qubits)
    unitary: torch.Tensor  # (B, d, d) or (1, d, d) when shared
    lam_pair: float  # 2-qubit depolarizing shrink (1.0 for none / 1-qubit blocks)
    lam: dict[int, float]  # per axis 1-qubit depolarizing shrink
    varying: bool


def _fuse(ops_batch: list[list[tuple]], axes: dict[int, int], noise: NoiseParams) -> list[_Block]:
    """Group each qubit's 1-qubit runs with the preceding 2-qubit gate (or a head block)."""
    nb = len(ops_batch)
    blocks: list[_Block] = []
    last: dict[int, int] = {}  # axis -> index of the last block touching it
    for k, (name, qs, _) in enumerate(ops_batch[0]):
        n_q = GATE_TABLE[name].n_wires
        angles = torch.tensor([ops[k][2] for ops in ops_batch], dtype=torch.float64)
        if angles.ndim == 1:
            angles = angles[:, None]
        varying = nb > 1 and angles.numel() > 0 and bool((angles != angles[:1]).any())
        mat = _native_matrices(name, angles if varying else angles[:1])
        ax = tuple(axes[q] for q in qs)
        if n_q == 1:
            lam = noise.one_qubit.get(qs[0], 1.0)
            j = last.get(ax[0])
            if j is None:
                last[ax[0]] = len(blocks)
                blocks.append(_Block(ax, mat, 1.0, {ax[0]: lam}, varying))
                continue
            blk = blocks[j]
            if len(blk.qubits) == 2:
                mat = _embed(mat, blk.qubits.index(ax[0]))
            blk.unitary = mat @ blk.unitary
            blk.lam[ax[0]] = blk.lam.get(ax[0], 1.0) * lam
            blk.varying = blk.varying or varying
        else:
            lam = noise.two_qubit.get((name, qs[0], qs[1]), 1.0)
            idx = len(blocks)
            blocks.append(_Block(ax, mat, lam, {}, varying))
            last[ax[0]] = last[ax[1]] = idx
    return blocks


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


# ---------------------------------------------------------------- simulation

def _group_p1_heisenberg(blocks: list[_Block], heads: dict[int, int], n: int, readout_axis: int,
                         nb: int) -> torch.Tensor:
    """P(1) on the readout axis before readout error, via one backward operator."""
    head_ids = set(heads.values())
    obs = torch.zeros((2,) * (2 * n), dtype=torch.complex128)
    proj = torch.zeros(2, 2, dtype=torch.complex128)
    proj[1, 1] = 1
    eye = torch.eye(2, dtype=torch.complex128)
    full = None
    for a in range(n):
        m = proj if a == readout_axis else eye
        full = m if full is None else torch.kron(full, m)
    # kron ordering: axis 0 is the most significant -> matches (2,)*n row layout
    obs = full.reshape((2,) * (2 * n))[None]
    for i in range(len(blocks) - 1, -1, -1):
        if i in head_ids:
            continue
        obs = _apply_block(obs, blocks[i], n, adjoint=True)
    # each axis' product state from its head block (|0><0| when it has none)
    states = []
    for a in range(n):
        rho = torch.zeros(1, 2, 2, dtype=torch.complex128)
        rho[:, 0, 0] = 1
        if a in heads:
            blk = blocks[heads[a]]
            u = blk.unitary
            rho = u @ rho @ u.conj().transpose(-1, -2)
            lam = blk.lam.get(a, 1.0)
            rho = lam * rho + (1 - lam) / 2 * torch.eye(2, dtype=rho.dtype)
        states.append(rho)
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


def _group_p1_schrodinger(blocks: list[_Block], n: int, readout_axis: int, nb: int,
                          dtype: torch.dtype) -> torch.Tensor:
    """P(1) on the readout axis before readout error, evolving density matrices."""
    per_sample = 16 * 4**n
    chunk = max(1, min(nb, _MAX_CHUNK_BYTES // per_sample))
    out = []
    for start in range(0, nb, chunk):
        stop = min(nb, start + chunk)
        rho = torch.zeros((stop - start,) + (2,) * (2 * n), dtype=dtype)
        rho[(slice(None),) + (0,) * (2 * n)] = 1
        for blk in blocks:
            sub = blk.unitary[start:stop] if blk.unitary.shape[0] > 1 else blk.unitary
            rho = _apply_block(rho, _Block(blk.qubits, sub.to(dtype), blk.lam_pair, blk.lam,
                                           blk.varying), n, adjoint=False)
        diag = torch.diagonal(rho.reshape(stop - start, 2**n, 2**n), dim1=-2, dim2=-1).real
        diag = diag.reshape((stop - start,) + (2,) * n)
        out.append(diag.select(1 + readout_axis, 1).reshape(stop - start, -1).sum(-1))
    return torch.cat(out).to(torch.float64)


def _heads(blocks: list[_Block], n: int) -> dict[int, int] | None:
    """Axis -> its head block, if every varying block is a 1-qubit head; else None."""
    heads, seen = {}, set()
    for i, blk in enumerate(blocks):
        if len(blk.qubits) == 1 and blk.qubits[0] not in seen:
            heads[blk.qubits[0]] = i
        elif blk.varying:
            return None
        seen.update(blk.qubits)
    return heads


@contextmanager
def _torch_threads(n: int | None):
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
    """
    with _torch_threads(num_threads):
        return _exact_p1(circuits, noise, method, dtype)


def _exact_p1(circuits, noise, method, dtype) -> np.ndarray:
    if method not in ("auto", "heisenberg", "schrodinger"):
        raise HardwareError(f"method must be auto, heisenberg or schrodinger, but got {method!r}")
    parsed = [circuit_ops(c) for c in circuits]
    groups: dict[tuple, list[int]] = {}
    for i, (ops, r) in enumerate(parsed):
        key = (tuple((name, qs) for name, qs, _ in ops), r)
        groups.setdefault(key, []).append(i)
    p1 = np.empty(len(parsed))
    for (structure, readout), idx in groups.items():
        qubits = sorted({q for _, qs in structure for q in qs} | {readout})
        if len(qubits) > 13:
            raise HardwareError(f"the circuit uses {len(qubits)} qubits; the emulator handles <= 13")
        axes = {q: i for i, q in enumerate(qubits)}
        n = len(qubits)
        blocks = _fuse([parsed[i][0] for i in idx], axes, noise)
        heads = _heads(blocks, n) if method != "schrodinger" else None
        if method == "heisenberg" and heads is None:
            raise HardwareError("samples differ beyond their leading one-qubit gates")
        if heads is not None:
            p = _group_p1_heisenberg(blocks, heads, n, axes[readout], len(idx))
        else:
            p = _group_p1_schrodinger(blocks, n, axes[readout], len(idx), dtype)
        flip = noise.readout.get(readout, 0.0)
        p = p.clamp(0.0, 1.0).numpy()
        p1[idx] = (1 - flip) * p + flip * (1 - p)
    return p1


# -------------------------------------------------------------------- results

@dataclass(frozen=True)
class EmulationResult:
    """Per-sample emulation output.

    Attributes:
        counts: ``(n_samples, 2)`` counts of reading 0 and 1.
        shots: shots per sample.
        backend: ``"torch"`` or ``"braket"``.
        p1: exact probability of reading 1 (torch backend), else ``None``.
    """

    counts: np.ndarray
    shots: int
    backend: str
    p1: np.ndarray | None = None

    @property
    def expval(self) -> np.ndarray:
        """Finite-shot estimate of ⟨Z⟩ on the readout qubit."""
        return 1.0 - 2.0 * self.counts[:, 1] / self.shots

    @property
    def exact_expval(self) -> np.ndarray | None:
        """Exact ⟨Z⟩ (readout error included), torch backend only."""
        return None if self.p1 is None else 1.0 - 2.0 * self.p1


def _noise_for(profile: Any) -> NoiseParams:
    if isinstance(profile, NoiseParams):
        return profile
    if hasattr(profile, "noise_model") and hasattr(profile, "run"):  # a LocalEmulator
        return NoiseParams.from_braket_noise_model(profile.noise_model)
    return NoiseParams.from_profile(profile)


def run_emulated(
    compiled_circuits: Sequence[Any],
    profile: Any,
    shots: int,
    backend: str = "torch",
    seed: int | None = None,
) -> EmulationResult:
    """Emulate compiled circuits with the profile's noise; one task per circuit.

    Args:
        compiled_circuits: :class:`~qml_ops.hardware.compile.CompiledCircuit`
            objects (or verbatim Braket circuits measuring one qubit).
        profile: a :class:`~qml_ops.hardware.profiles.Profile`; for
            ``backend="braket"`` a ready ``LocalEmulator`` is accepted too.
        shots: shots per circuit (>= 1).
        backend: ``"torch"`` (this module, exact probabilities then sampled
            counts) or ``"braket"`` (Braket's ``LocalEmulator``, ~seconds per circuit).
        seed: seed of the shot sampling (torch backend; Braket's density-matrix
            simulator draws from an unseeded generator, so braket counts vary).

    Raises:
        HardwareError: bad backend or shots, unsupported gates or noise.
    """
    if backend not in BACKENDS:
        raise HardwareError(f"backend must be one of {list(BACKENDS)}, but got backend={backend!r}")
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise HardwareError(f"shots must be a positive integer, but got shots={shots!r}")
    if backend == "torch":
        p1 = exact_p1(compiled_circuits, _noise_for(profile))
        ones = np.random.default_rng(seed).binomial(int(shots), p1)
        counts = np.stack([shots - ones, ones], axis=1)
        return EmulationResult(counts=counts, shots=int(shots), backend=backend, p1=p1)
    emulator = profile if hasattr(profile, "run") else _local_emulator(profile)
    counts = np.zeros((len(compiled_circuits), 2), dtype=np.int64)
    for i, c in enumerate(compiled_circuits):
        circuit = getattr(c, "circuit", c)
        with warnings.catch_warnings():  # braket warns about its own noise model
            warnings.simplefilter("ignore", UserWarning)
            measured = emulator.run(circuit, shots=int(shots)).result().measurement_counts
        counts[i] = [measured.get("0", 0), measured.get("1", 0)]
    return EmulationResult(counts=counts, shots=int(shots), backend=backend, p1=None)


def _local_emulator(profile: Any):
    from qml_ops.hardware.profiles import build_local_emulator

    return build_local_emulator(profile)
