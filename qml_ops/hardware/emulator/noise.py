"""The emulators' noise model: channels, and where they act in a compiled circuit.

A :class:`Channel` is a CPTP map on one or two qubits given by its Kraus
operators. Each channel knows whether it is a *Pauli channel* (its process
matrix in the Pauli basis is diagonal: ``ρ → Σ_P p_P · PρP``) and, for the
depolarizing channels, its shrink factor ``λ`` (``ρ → λρ + (1-λ)·I/d ⊗ Tr ρ``,
unchanged by any unitary on its qubits). Both emulators read the same
channels and treat them as follows:

==========================  =========================  ==============================
channel                     density matrix             trajectories
==========================  =========================  ==============================
depolarizing                fused as ``λ`` factors     Pauli errors sampled upfront
other Pauli channels        Kraus sum at its place     Pauli errors sampled upfront
(bit/phase flip, phase      (exact)                    (state-independent, exact in
damping, twirled channels)                             expectation)
any other one-qubit         Kraus sum at its place     quantum-trajectory unravelling:
channel (amplitude          (exact)                    Kraus branch ``i`` drawn with
damping, …)                                            probability ``‖K_i ψ‖²``, state
                                                       renormalised (exact in
                                                       expectation)
==========================  =========================  ==============================

:meth:`Channel.twirled` gives the Pauli-twirled approximation of any channel
(the diagonal of its Pauli process matrix), for when a caller prefers a Pauli
channel (it keeps the trajectory emulator's gate fusion intact) at the price of
dropping the coherent part.

:class:`NoiseParams` places channels after gates. Today's calibrated model
(the channels of Braket's ``LocalEmulator``: depolarizing after one- and
two-qubit gates from the RB fidelities, a bit flip before readout) comes from
:meth:`NoiseParams.from_profile`; :attr:`NoiseParams.gate_channels` adds any
further one-qubit channels after a given gate on a given qubit (for example
:func:`thermal_relaxation` over each gate's duration, from T1 and T2).
:meth:`NoiseParams.steps` turns a compiled circuit into the one instruction
stream (gates and channels in time order) that both emulators consume; a
schedule-aware model (idle relaxation) extends that one method.

Example:
    >>> ad = Channel.amplitude_damping(0.1)
    >>> ad.is_pauli, Channel.phase_damping(0.1).is_pauli
    (False, True)
    >>> [round(p, 4) for p in ad.twirled().pauli_probs]
    [0.9493, 0.025, 0.025, 0.0007]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from qml_ops.errors import HardwareError

__all__ = ["Channel", "NoiseParams", "pauli_matrix", "thermal_relaxation", "NoiseStep"]

_PAULIS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
                   dtype=np.complex128)
_TOL = 1e-10


def pauli_matrix(index: int, n_qubits: int) -> np.ndarray:
    """The Pauli string of ``index`` in base 4 (``0..3`` = I, X, Y, Z; first qubit most significant).

    Example:
        >>> pauli_matrix(7, 2).real.astype(int).tolist()[0]   # X ⊗ Z: index 1·4 + 3
        [0, 0, 1, 0]
    """
    out = np.ones((1, 1), dtype=np.complex128)
    for k in range(n_qubits - 1, -1, -1):
        out = np.kron(out, _PAULIS[(index // 4**k) % 4])
    return out


@dataclass(frozen=True, eq=False)
class Channel:
    """A CPTP map on ``n_qubits`` qubits, by its Kraus operators.

    Build it with the named constructors (:meth:`depolarizing`, :meth:`pauli`,
    :meth:`bit_flip`, :meth:`amplitude_damping`, …) or directly from Kraus
    operators (checked: ``Σ K†K = I``).

    Attributes:
        name: what the channel is, for messages (``"amplitude_damping(0.01)"``).
        kraus: the Kraus operators, ``(d, d)`` complex arrays, ``d = 2**n_qubits``.
        depolarizing_lambda: ``λ`` for a depolarizing channel (the density-matrix
            emulator fuses those: they commute with unitaries), else ``None``.
    """

    name: str
    kraus: tuple[np.ndarray, ...]
    depolarizing_lambda: float | None = None

    def __post_init__(self) -> None:
        ops = tuple(np.asarray(k, dtype=np.complex128) for k in self.kraus)
        if not ops or ops[0].ndim != 2 or ops[0].shape[0] not in (2, 4) or any(k.shape != ops[0].shape for k in ops):
            raise HardwareError(f"channel {self.name}: Kraus operators must be 2x2 or 4x4 matrices of one shape")
        total = sum(k.conj().T @ k for k in ops)
        if not np.allclose(total, np.eye(ops[0].shape[0]), atol=1e-9):
            raise HardwareError(f"channel {self.name}: Kraus operators are not trace preserving (Σ K†K ≠ I)")
        object.__setattr__(self, "kraus", ops)

    @property
    def n_qubits(self) -> int:
        return 1 if self.kraus[0].shape[0] == 2 else 2

    @cached_property
    def process_matrix(self) -> np.ndarray:
        """``χ`` in the Pauli basis: ``ρ → Σ_PQ χ_PQ · P ρ Q†`` (``d² × d²``)."""
        d = self.kraus[0].shape[0]
        paulis = [pauli_matrix(i, self.n_qubits) for i in range(d * d)]
        c = np.array([[np.trace(p.conj().T @ k) / d for p in paulis] for k in self.kraus])
        return c.T @ c.conj()

    @cached_property
    def pauli_probs(self) -> tuple[float, ...] | None:
        """Probability of each Pauli (index as :func:`pauli_matrix`) if this is a Pauli channel, else None."""
        chi = self.process_matrix
        if np.abs(chi - np.diag(np.diag(chi))).max() > _TOL:
            return None
        probs = np.clip(np.diag(chi).real, 0.0, None)
        return tuple(float(p) for p in probs / probs.sum())

    @property
    def is_pauli(self) -> bool:
        return self.pauli_probs is not None

    def twirled(self) -> "Channel":
        """The Pauli-twirled approximation: the Pauli channel with ``χ``'s diagonal."""
        probs = np.clip(np.diag(self.process_matrix).real, 0.0, None)
        return Channel.pauli(probs / probs.sum(), name=f"twirled({self.name})")

    # ------------------------------------------------------------ constructors
    @classmethod
    def pauli(cls, probs: Sequence[float], name: str | None = None) -> "Channel":
        """``ρ → Σ_P p_P · PρP`` for probabilities over ``4**n`` Pauli strings."""
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 1 or probs.size not in (4, 16) or (probs < -1e-15).any() or abs(probs.sum() - 1) > 1e-9:
            raise HardwareError(f"Pauli channel probabilities must be 4 or 16 non-negative numbers summing to 1, "
                                f"but got {probs.tolist()}")
        n = 1 if probs.size == 4 else 2
        kraus = tuple(math.sqrt(max(p, 0.0)) * pauli_matrix(i, n) for i, p in enumerate(probs) if p > 0)
        return cls(name or f"pauli({n}q)", kraus)

    @classmethod
    def depolarizing(cls, lam: float, n_qubits: int = 1) -> "Channel":
        """``ρ → λρ + (1-λ)·I/d ⊗ Tr ρ`` (Braket's ``Depolarizing(p)`` is ``λ = 1 - 4p/3``,
        ``TwoQubitDepolarizing(p)`` is ``λ = 1 - 16p/15``)."""
        d2 = 4**n_qubits
        lam = float(lam)
        if not -1.0 / (d2 - 1) - 1e-12 <= lam <= 1.0 + 1e-12:
            raise HardwareError(f"depolarizing λ must be in [-1/{d2 - 1}, 1], but got λ={lam}")
        rest = (1.0 - lam) / d2
        probs = [lam + rest] + [rest] * (d2 - 1)
        channel = cls.pauli(probs, name=f"depolarizing({lam:.6g}, {n_qubits}q)")
        return cls(channel.name, channel.kraus, depolarizing_lambda=lam)

    @classmethod
    def bit_flip(cls, p: float) -> "Channel":
        return cls.pauli([1 - p, p, 0, 0], name=f"bit_flip({p:.6g})")

    @classmethod
    def phase_flip(cls, p: float) -> "Channel":
        return cls.pauli([1 - p, 0, 0, p], name=f"phase_flip({p:.6g})")

    @classmethod
    def amplitude_damping(cls, gamma: float) -> "Channel":
        """Energy relaxation ``|1⟩ → |0⟩`` with probability ``γ`` (Braket's ``AmplitudeDamping``)."""
        _check_probability("amplitude damping gamma", gamma)
        k0 = np.array([[1, 0], [0, math.sqrt(1 - gamma)]])
        k1 = np.array([[0, math.sqrt(gamma)], [0, 0]])
        return cls(f"amplitude_damping({gamma:.6g})", (k0, k1))

    @classmethod
    def phase_damping(cls, gamma: float) -> "Channel":
        """Pure dephasing: coherences shrink by ``√(1-γ)`` (Braket's ``PhaseDamping``; a
        Pauli channel, a phase flip with ``p = (1 - √(1-γ))/2``)."""
        _check_probability("phase damping gamma", gamma)
        k0 = np.array([[1, 0], [0, math.sqrt(1 - gamma)]])
        k1 = np.array([[0, 0], [0, math.sqrt(gamma)]])
        return cls(f"phase_damping({gamma:.6g})", (k0, k1))


def _check_probability(what: str, value: float) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise HardwareError(f"{what} must be in [0, 1], but got {value}")


def thermal_relaxation(duration: float, t1: float, t2: float) -> tuple[Channel, ...]:
    """T1/T2 relaxation of one qubit over ``duration`` (same time unit as ``t1``, ``t2``).

    Amplitude damping with ``γ = 1 - exp(-t/T1)`` then phase damping with
    ``γ_φ = 1 - exp(-2t/T2 + t/T1)``: populations relax with T1, coherences
    decay as ``exp(-t/T2)`` in all.

    Raises:
        HardwareError: unless ``duration >= 0``, ``t1 > 0`` and ``0 < t2 <= 2·t1``.

    Example:
        >>> [c.name for c in thermal_relaxation(0.1, 50.0, 40.0)]
        ['amplitude_damping(0.001998)', 'phase_damping(0.0029955)']
    """
    if not (duration >= 0 and t1 > 0 and 0 < t2 <= 2 * t1):
        raise HardwareError(f"thermal relaxation needs duration >= 0, T1 > 0 and 0 < T2 <= 2·T1, but got "
                            f"duration={duration}, T1={t1}, T2={t2}")
    gamma = -math.expm1(-duration / t1)
    gamma_phi = -math.expm1(-2 * duration / t2 + duration / t1)
    return Channel.amplitude_damping(gamma), Channel.phase_damping(max(gamma_phi, 0.0))


#: One step of a noisy circuit: ``("gate", k)`` (the k-th op of the compiled
#: circuit) or ``("noise", channel, qubits)``.
NoiseStep = tuple


@dataclass(frozen=True)
class NoiseParams:
    """Where channels act: LocalEmulator's calibrated channels, plus any others.

    Attributes:
        one_qubit: qubit -> ``λ`` of the depolarizing channel after each
            one-qubit gate on it (1.0: no noise).
        two_qubit: ``(gate, a, b)`` -> ``λ`` after that gate on ``(a, b)``
            (both orientations present).
        readout: qubit -> bit-flip probability at measurement.
        gate_channels: ``(gate, qubit)`` -> further one-qubit channels applied to
            ``qubit`` after each ``gate`` acting on it (after the depolarizing
            channel), e.g. :func:`thermal_relaxation` over the gate's duration.
    """

    one_qubit: dict[int, float]
    two_qubit: dict[tuple[str, int, int], float]
    readout: dict[int, float]
    gate_channels: Mapping[tuple[str, int], tuple[Channel, ...]] = field(default_factory=dict)

    @classmethod
    def noiseless(cls) -> "NoiseParams":
        return cls({}, {}, {})

    def steps(self, structure: Sequence[tuple[str, tuple[int, ...]]]) -> list[NoiseStep]:
        """The noisy instruction stream of a circuit: each gate, then its channels.

        Args:
            structure: the circuit's ``(gate name, qubits)`` in time order.

        Returns:
            ``("gate", k)`` for the k-th gate, each followed by
            ``("noise", channel, qubits)`` for its depolarizing channel (if any)
            and its :attr:`gate_channels`.
        """
        out: list[NoiseStep] = []
        for k, (name, qs) in enumerate(structure):
            out.append(("gate", k))
            if len(qs) == 1:
                lam = self.one_qubit.get(qs[0], 1.0)
                if lam != 1.0:
                    out.append(("noise", _depolarizing(lam, 1), qs))
            else:
                lam = self.two_qubit.get((name, *qs), 1.0)
                if lam != 1.0:
                    out.append(("noise", _depolarizing(lam, len(qs)), qs))
            for q in qs:
                for channel in self.gate_channels.get((name, q), ()):
                    if channel.n_qubits != 1:
                        raise HardwareError(f"gate_channels[({name!r}, {q})]: {channel.name} is not a one-qubit "
                                            "channel")
                    out.append(("noise", channel, (q,)))
        return out

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


_DEPOLARIZING: dict[tuple[float, int], Channel] = {}


def _depolarizing(lam: float, n_qubits: int) -> Channel:
    """A cached depolarizing channel (profiles repeat the same few ``λ`` many times)."""
    key = (lam, n_qubits)
    if key not in _DEPOLARIZING:
        _DEPOLARIZING[key] = Channel.depolarizing(lam, n_qubits)
    return _DEPOLARIZING[key]
