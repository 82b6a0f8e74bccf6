"""The QCNN under depolarizing and readout noise, differentiable (noise-aware training).

:class:`NoisySimulator` computes the noisy ⟨Z⟩ on the readout wire of the
*logical* QCNN (:class:`~qml_ops.circuits.qcnn.QCNNSpec`) with the channels of
Braket's ``LocalEmulator`` placed on the logical circuit (:class:`UnitNoise`):

* after the encoding, and after every two-qubit unit (a convolution block or a
  pooling unit) on each of its wires ``w``: one-qubit depolarizing,
  ``ρ → λ₁[w] ρ + (1 - λ₁[w]) · I/2 ⊗ Tr_w ρ``;
* after unit ``u`` on its pair: two-qubit depolarizing with ``λ₂[u]``;
* at measurement: a bit flip with probability ``readout_flip``
  (⟨Z⟩ → (1 - 2f) ⟨Z⟩).

How the λ values follow from a device's calibration and the compiled circuit
is the hardware adapter's job (:mod:`qml_ops.hardware.noise_aware`); this
module only simulates.

**Heisenberg picture, Pauli basis.** All samples share the circuit after their
encoding, so the observable is propagated backwards once per forward pass,
``O = Φ†((1 - 2f) Z_readout)``, built from the weights with torch autograd. It
is kept as its real coefficients in the Pauli basis (``4ⁿ`` numbers): a unit
acts through its 16×16 Pauli transfer matrix, and every depolarizing channel is
diagonal there (the non-identity components shrink by λ), so each unit costs one
small real matrix product; the units of a layer share one transfer matrix. A
product-state encoding (angle, dense angle) then gives ⟨Z⟩ as the coefficients
contracted with each wire's Bloch vector; amplitude encoding turns them into the
``2ⁿ × 2ⁿ`` matrix and takes ``⟨ψ|O|ψ⟩``. At 8 qubits a training step costs 2-3
times the noiseless simulator's; 16 qubits (4¹⁶ coefficients) are not supported.

Checked against PennyLane's ``default.mixed`` with the same channels
(``tests/simulation/test_noisy.py``), and equal to the noiseless simulator when
every λ is 1 and the flip 0.

Example:
    >>> import torch
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> spec = QCNNSpec(n_qubits=4, ansatz=1, encoding="angle")
    >>> noise = UnitNoise.uniform(spec, two_qubit=0.98, one_qubit=0.999, readout_flip=0.02)
    >>> sim = NoisySimulator(spec, noise, dtype=torch.complex128)
    >>> w = torch.zeros(spec.n_weights, dtype=torch.float64, requires_grad=True)
    >>> z = sim.expval(w, torch.rand(3, 4, dtype=torch.float64))
    >>> z.sum().backward()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from qml_ops.circuits.gates import gate_matrix
from qml_ops.circuits.ir import Gate
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import ModelError

__all__ = ["MAX_QUBITS", "Unit", "UnitNoise", "NoisySimulator", "units"]

#: Largest register the Heisenberg-picture operator (2ⁿ × 2ⁿ) is built for.
MAX_QUBITS = 8
#: Native two-qubit gates (CZ-equivalents) of each IR two-qubit gate: CRZ and CRX need two.
NATIVE_TWO_QUBIT_COST = {"cnot": 1, "cz": 1, "crz": 2, "crx": 2}


@dataclass(frozen=True)
class Unit:
    """One two-qubit unit of the QCNN: a convolution block or a pooling unit.

    Attributes:
        layer: 0-based layer.
        kind: ``"conv"`` or ``"pool"`` (``wires`` = (discarded control, kept target)).
        wires: the pair ``(a, b)``; ``a`` is the high bit of the unit's 4×4 matrix.
        gates: its IR gates (weights referenced, not bound).
    """

    layer: int
    kind: str
    wires: tuple[int, int]
    gates: tuple[Gate, ...]

    @property
    def two_qubit_cost(self) -> int:
        """Native two-qubit gates this unit needs as written (CRZ/CRX count 2)."""
        return sum(NATIVE_TWO_QUBIT_COST.get(g.name, 0) for g in self.gates if len(g.wires) == 2)


def units(spec: QCNNSpec) -> list[Unit]:
    """The QCNN's two-qubit units in circuit order: per layer its convolutions, then its poolings.

    Example:
        >>> [(u.kind, u.wires) for u in units(QCNNSpec(4, 1))][:5]
        [('conv', (0, 3)), ('conv', (0, 1)), ('conv', (2, 3)), ('conv', (1, 2)), ('pool', (1, 0))]
    """
    out = []
    for layer, (conv, pools) in enumerate(spec.layers):
        out += [Unit(layer, "conv", (a, b), tuple(spec.conv_gates(layer, a, b))) for a, b in conv]
        out += [Unit(layer, "pool", (c, t), tuple(spec.pool_gates(layer, c, t))) for c, t in pools]
    return out


@dataclass(frozen=True)
class UnitNoise:
    """Depolarizing and readout noise of the logical QCNN, as shrink factors λ (1: no noise).

    Attributes:
        two_qubit: one λ per unit of :func:`units` (two-qubit depolarizing on its pair after it).
        one_qubit: one λ per wire (one-qubit depolarizing after the encoding and after every
            unit on the wire).
        readout_flip: bit-flip probability at measurement (0 <= f <= 1/2).
        source: where the values come from (e.g. a device and its calibration date).
    """

    two_qubit: tuple[float, ...]
    one_qubit: tuple[float, ...]
    readout_flip: float = 0.0
    source: str = ""

    @classmethod
    def uniform(cls, spec: QCNNSpec, two_qubit: float = 1.0, one_qubit: float = 1.0,
                readout_flip: float = 0.0) -> "UnitNoise":
        """The same λ on every unit and every wire (for tests and experiments)."""
        return cls(tuple([float(two_qubit)] * len(units(spec))), tuple([float(one_qubit)] * spec.n_qubits),
                   float(readout_flip), "uniform")

    def check(self, spec: QCNNSpec) -> None:
        """Raise :class:`ModelError` unless this noise fits ``spec`` (lengths and ranges)."""
        n_units = len(units(spec))
        if len(self.two_qubit) != n_units or len(self.one_qubit) != spec.n_qubits:
            raise ModelError(
                f"noise has {len(self.two_qubit)} unit and {len(self.one_qubit)} wire factors; the circuit "
                f"{spec} has {n_units} units and {spec.n_qubits} wires"
            )
        bad = [v for v in (*self.two_qubit, *self.one_qubit) if not 0.0 <= v <= 1.0]
        if bad:
            raise ModelError(f"noise shrink factors must be in [0, 1], but got {bad[:3]}")
        if not 0.0 <= self.readout_flip <= 0.5:
            raise ModelError(f"noise readout_flip must be in [0, 0.5], but got {self.readout_flip}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (a model's ``noise`` hyper-parameter)."""
        return {"two_qubit": list(self.two_qubit), "one_qubit": list(self.one_qubit),
                "readout_flip": self.readout_flip, "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UnitNoise":
        try:
            return cls(tuple(float(v) for v in data["two_qubit"]), tuple(float(v) for v in data["one_qubit"]),
                       float(data.get("readout_flip", 0.0)), str(data.get("source", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"noise must have two_qubit, one_qubit and readout_flip lists/values ({exc})") from None


# --------------------------------------------------------- Pauli-basis algebra
# The observable is kept as its real coefficients in the Pauli basis, O = Σ_P c_P P, a
# tensor of shape (4,)*n (wire 0 first; index 0..3 = I, X, Y, Z). A unit acts on it through
# its Pauli transfer matrix (a real 16×16), depolarizing channels are diagonal there
# (non-identity components shrink by λ), and a product state's ⟨P⟩ is a product of
# one-qubit Bloch components.


def _paulis(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(4, 2, 2)``: I, X, Y, Z."""
    return torch.tensor([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
                        dtype=dtype, device=device)


def _unit_matrix(unit: Unit, weights: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The unit's 4×4 unitary on ``(a, b)`` (``a`` the high bit), differentiable in the weights."""
    a, b = unit.wires
    eye = torch.eye(2, dtype=dtype, device=weights.device)
    swap = torch.eye(4, dtype=dtype, device=weights.device)[[0, 2, 1, 3]]
    u = torch.eye(4, dtype=dtype, device=weights.device)
    for gate in unit.gates:
        angles = [weights[int(ref[1])] if ref[0] == "w"
                  else torch.as_tensor(ref[1], dtype=weights.dtype, device=weights.device) for ref in gate.params]
        m = gate_matrix(gate.name, *angles, dtype=dtype, device=weights.device).to(dtype)
        if len(gate.wires) == 1:
            m = torch.kron(m, eye) if gate.wires[0] == a else torch.kron(eye, m)
        elif gate.wires == (b, a):
            m = swap @ m @ swap
        u = m @ u
    return u


def _heisenberg_transfer(u: torch.Tensor, paulis2: torch.Tensor) -> torch.Tensor:
    """``R[p, q] = Tr(P_p U† P_q U) / 4``: coefficients of ``U† O U`` from those of ``O`` (real 16×16)."""
    conjugated = u.mH @ paulis2 @ u  # U† P_q U for each q
    return torch.einsum("pij,qji->pq", paulis2, conjugated).real / 4


def _apply_on(coeffs: torch.Tensor, matrix: torch.Tensor, wires: tuple[int, ...]) -> torch.Tensor:
    """``matrix`` (4^k × 4^k) applied to the Pauli indices of ``wires`` of a ``(4,)*n`` tensor."""
    k = len(wires)
    front = torch.movedim(coeffs, list(wires), list(range(k)))
    shape = front.shape
    out = (matrix @ front.reshape(4**k, -1)).reshape(shape)
    return torch.movedim(out, list(range(k)), list(wires))


def _shrink_mask(lam_pair: float, lam_a: float, lam_b: float, dtype: torch.dtype, device) -> torch.Tensor:
    """Pauli-diagonal of the depolarizing channels after a unit (two-qubit, then each wire): ``(16,)``."""
    mask = torch.full((4, 4), lam_pair, dtype=dtype, device=device)
    mask[0, 0] = 1.0
    mask[1:, :] *= lam_a
    mask[:, 1:] *= lam_b
    return mask.reshape(16)


class NoisySimulator:
    """Batched, differentiable noisy ⟨Z_readout⟩ of a :class:`QCNNSpec` (see the module docstring).

    Args:
        spec: the circuit (at most :data:`MAX_QUBITS` qubits).
        noise: the channels (:class:`UnitNoise` or its dict form).
        device: torch device. dtype: ``torch.complex64`` or ``torch.complex128``.

    The interface is the noiseless :class:`~qml_ops.simulation.engine.BatchedSimulator`'s
    ``expval(weights, features)``, so a model trains on either.
    """

    def __init__(self, spec: QCNNSpec, noise: UnitNoise | Mapping[str, Any], device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.complex64) -> None:
        if dtype not in (torch.complex64, torch.complex128):
            raise ModelError(f"simulator dtype must be torch.complex64 or torch.complex128, but got dtype={dtype}.")
        if spec.n_qubits > MAX_QUBITS:
            raise ModelError(
                f"noise-aware simulation supports at most {MAX_QUBITS} qubits (a 2^n x 2^n operator), "
                f"but the circuit has {spec.n_qubits}"
            )
        noise = noise if isinstance(noise, UnitNoise) else UnitNoise.from_dict(noise)
        noise.check(spec)
        self.spec, self.noise = spec, noise
        self.device = torch.device(device)
        self.dtype = dtype
        self.real_dtype = torch.float64 if dtype == torch.complex128 else torch.float32
        self.units = units(spec)
        self._paulis = _paulis(dtype, self.device)
        self._paulis2 = torch.einsum("aij,bkl->abikjl", self._paulis, self._paulis).reshape(16, 4, 4)

    def pauli_coefficients(self, weights: torch.Tensor) -> torch.Tensor:
        """The observable ``Φ†((1 - 2f) Z_readout)`` just after the encoding (its noise included),
        as real Pauli coefficients ``(4,)*n``."""
        n, noise = self.spec.n_qubits, self.noise
        coeffs = torch.zeros((4,) * n, dtype=self.real_dtype, device=self.device)
        coeffs[tuple(3 if w == self.spec.readout_wire else 0 for w in range(n))] = 1.0 - 2.0 * noise.readout_flip
        transfers: dict[tuple[int, str], torch.Tensor] = {}  # the units of a layer share their matrix
        for i in range(len(self.units) - 1, -1, -1):
            unit = self.units[i]
            a, b = unit.wires
            key = (unit.layer, unit.kind)
            if key not in transfers:
                transfers[key] = _heisenberg_transfer(_unit_matrix(unit, weights, self.dtype), self._paulis2)
            transfer = transfers[key]
            mask = _shrink_mask(noise.two_qubit[i], noise.one_qubit[a], noise.one_qubit[b], self.real_dtype,
                                self.device)
            coeffs = _apply_on(coeffs, transfer * mask, unit.wires)
        return coeffs

    def observable(self, weights: torch.Tensor) -> torch.Tensor:
        """The same observable as a ``(2ⁿ, 2ⁿ)`` matrix (before the encoding's noise)."""
        n = self.spec.n_qubits
        op = self.pauli_coefficients(weights).to(self.dtype)
        for w in range(n):  # Σ_p c[..p..] σ_p on wire w: the Pauli index becomes a (row, col) pair
            op = torch.tensordot(op, self._paulis, dims=([0], [0]))
        # axes now: (r0, c0, r1, c1, ...): rows first, then columns
        op = op.permute(*range(0, 2 * n, 2), *range(1, 2 * n, 2))
        return op.reshape(2**n, 2**n)

    def _encoding_shrink(self) -> torch.Tensor:
        """``(n, 4)``: the encoding's one-qubit depolarizing on each wire's Bloch components."""
        lam = torch.tensor(self.noise.one_qubit, dtype=self.real_dtype, device=self.device)
        return torch.cat([torch.ones_like(lam)[:, None], lam[:, None].expand(-1, 3)], dim=1)

    def bloch(self, features: torch.Tensor) -> torch.Tensor:
        """Each wire's ``(⟨I⟩, ⟨X⟩, ⟨Y⟩, ⟨Z⟩)`` after the encoding gates: ``(B, n, 4)`` (product encodings)."""
        n, batch = self.spec.n_qubits, features.shape[0]
        feats = features.to(device=self.device, dtype=self.real_dtype)
        zero = torch.zeros(batch, 2, dtype=self.dtype, device=self.device)
        zero[:, 0] = 1
        qubits = [zero] * n
        for gate in self.spec.encoding_gates():
            angles = [feats[:, int(ref[1])] if ref[0] == "x"
                      else torch.full((batch,), ref[1], dtype=self.real_dtype, device=self.device)
                      for ref in gate.params]
            m = gate_matrix(gate.name, *angles, dtype=self.dtype, device=self.device)
            w = gate.wires[0]
            qubits[w] = (m @ qubits[w].unsqueeze(-1)).squeeze(-1)
        psi = torch.stack(qubits, dim=1)  # (B, n, 2)
        cross = psi[..., 0].conj() * psi[..., 1]
        prob = psi.abs() ** 2
        return torch.stack([prob.sum(-1), 2 * cross.real, 2 * cross.imag, prob[..., 0] - prob[..., 1]], dim=-1)

    def expval(self, weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Noisy ⟨Z⟩ on ``spec.readout_wire`` per sample: ``(B,)`` real (``()`` for one sample).

        Raises:
            ModelError: on wrong shapes or an all-zero amplitude vector.
        """
        single = features.dim() == 1
        if single:
            features = features.unsqueeze(0)
        if weights.shape != (self.spec.n_weights,):
            raise ModelError(f"weights must have shape ({self.spec.n_weights},) for {self.spec}, "
                             f"but got {tuple(weights.shape)}.")
        if features.dim() != 2 or features.shape[1] != self.spec.n_features:
            raise ModelError(f"features must have shape (batch, {self.spec.n_features}) for {self.spec}, "
                             f"but got {tuple(features.shape)}.")
        weights = weights.to(device=self.device, dtype=self.real_dtype)
        features = features.detach()
        n = self.spec.n_qubits
        if self.spec.encoding == "amplitude":
            coeffs = self.pauli_coefficients(weights)
            shrink = self._encoding_shrink()
            for w in range(n):  # the encoding's noise, in the Heisenberg picture
                coeffs = coeffs * shrink[w].reshape((1,) * w + (4,) + (1,) * (n - w - 1))
            op = coeffs.to(self.dtype)
            for _ in range(n):
                op = torch.tensordot(op, self._paulis, dims=([0], [0]))
            op = op.permute(*range(0, 2 * n, 2), *range(1, 2 * n, 2)).reshape(2**n, 2**n)
            norm = features.norm(dim=1, keepdim=True).to(self.real_dtype)
            if bool((norm == 0).any()):
                raise ModelError("amplitude encoding needs non-zero feature vectors, got an all-zero row.")
            psi = (features.to(device=self.device, dtype=self.real_dtype) / norm).to(self.dtype)
            z = torch.einsum("bi,ij,bj->b", psi.conj(), op, psi).real
        else:
            bloch = self.bloch(features) * self._encoding_shrink()  # (B, n, 4)
            t = self.pauli_coefficients(weights).reshape(4, -1)  # wire 0 first
            t = bloch[:, 0] @ t  # (B, 4^(n-1))
            for w in range(1, n):
                t = torch.einsum("bp,bpr->br", bloch[:, w], t.reshape(t.shape[0], 4, -1))
            z = t.reshape(-1)
        return z[0] if single else z

    __call__ = expval

    def __repr__(self) -> str:
        return f"NoisySimulator({self.spec!r}, noise={self.noise.source!r}, dtype={self.dtype})"
