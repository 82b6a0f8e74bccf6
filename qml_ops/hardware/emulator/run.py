"""Run compiled circuits on an emulator: method choice, shot sampling, the result.

Methods of the torch emulator (:data:`METHODS`):

* ``density_matrix``: exact probabilities (:mod:`.density_matrix`), cost
  ``~4**n``;
* ``trajectories``: ``T`` state-vector trajectories per sample
  (:mod:`.trajectories`), cost ``~T·2**n``, with a standard error per sample;
* ``auto``: the density matrix on small circuits, trajectories above
  (:mod:`.settings` has the limits and how they were measured).

``braket`` runs Braket's own ``LocalEmulator`` (a density matrix, seconds per
circuit; the reference).

Example:
    >>> result = run_emulated(compiled, profile, shots=1000, seed=0)      # doctest: +SKIP
    >>> result.method, result.p1[:3], result.counts[:3]                   # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from qml_ops.errors import HardwareError
from qml_ops.hardware.emulator.density_matrix import exact_p1
from qml_ops.hardware.emulator.noise import NoiseParams
from qml_ops.hardware.emulator.program import circuit_ops
from qml_ops.hardware.emulator.settings import DEFAULT_TRAJECTORIES, choose_method
from qml_ops.hardware.emulator.trajectories import trajectory_p1

__all__ = ["BACKENDS", "EmulationResult", "run_emulated", "circuit_qubits"]

BACKENDS = ("torch", "braket")


@dataclass(frozen=True)
class EmulationResult:
    """Per-sample emulation output.

    Attributes:
        counts: ``(n_samples, 2)`` counts of reading 0 and 1.
        shots: shots per sample.
        backend: ``"torch"`` or ``"braket"``.
        p1: probability of reading 1 (torch backend: exact for the density
            matrix, the trajectory mean for trajectories), else ``None``.
        p1_stderr: the emulator's own standard error of ``p1`` per sample (0 for
            the exact density matrix; ``None`` for braket, which only samples).
        method: ``"density_matrix"`` (also braket's) or ``"trajectories"``.
        trajectories: trajectories per sample (trajectories only).
    """

    counts: np.ndarray
    shots: int
    backend: str
    p1: np.ndarray | None = None
    p1_stderr: np.ndarray | None = None
    method: str | None = None
    trajectories: int | None = None

    @property
    def expval(self) -> np.ndarray:
        """Finite-shot estimate of ⟨Z⟩ on the readout qubit."""
        return 1.0 - 2.0 * self.counts[:, 1] / self.shots

    @property
    def exact_expval(self) -> np.ndarray | None:
        """⟨Z⟩ from ``p1`` (readout error included), torch backend only."""
        return None if self.p1 is None else 1.0 - 2.0 * self.p1


def circuit_qubits(circuits: Sequence[Any]) -> int:
    """The most physical qubits any of the circuits uses (gates and readout)."""
    most = 0
    for c in circuits:
        ops, readout = circuit_ops(c)
        most = max(most, len({q for _, qs, _ in ops for q in qs} | {readout}))
    return most


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
    *,
    method: str = "auto",
    trajectories: int = DEFAULT_TRAJECTORIES,
    device: str | None = None,
) -> EmulationResult:
    """Emulate compiled circuits with the profile's noise; one task per circuit.

    Args:
        compiled_circuits: :class:`~qml_ops.hardware.compile.CompiledCircuit`
            objects (or verbatim Braket circuits measuring one qubit).
        profile: a :class:`~qml_ops.hardware.profiles.Profile` or
            :class:`~qml_ops.hardware.emulator.noise.NoiseParams`; for
            ``backend="braket"`` a ready ``LocalEmulator`` is accepted too.
        shots: shots per circuit (>= 1).
        backend: ``"torch"`` (this package: probabilities, then sampled counts)
            or ``"braket"`` (Braket's ``LocalEmulator``, ~seconds per circuit).
        seed: seed of the trajectories and of the shot sampling (torch backend;
            Braket's density-matrix simulator draws from an unseeded generator,
            so braket counts vary).
        method: ``auto``, ``density_matrix`` or ``trajectories`` (torch backend).
        trajectories: trajectories per sample (method ``trajectories``).
        device: torch device of the trajectory emulator (None: CPU).

    Raises:
        HardwareError: bad backend, method or shots, unsupported gates or noise,
            too many qubits for the density matrix.
    """
    if backend not in BACKENDS:
        raise HardwareError(f"backend must be one of {list(BACKENDS)}, but got backend={backend!r}")
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise HardwareError(f"shots must be a positive integer, but got shots={shots!r}")
    if backend == "torch":
        chosen = choose_method(circuit_qubits(compiled_circuits), method)
        noise = _noise_for(profile)
        if chosen == "density_matrix":
            p1, n_traj = exact_p1(compiled_circuits, noise), None
            stderr = np.zeros_like(p1)
        else:
            traj_seed = None if seed is None else np.random.SeedSequence([int(seed), 16])
            result = trajectory_p1(compiled_circuits, noise, trajectories=trajectories,
                                   seed=np.random.default_rng(traj_seed), device=device)
            p1, stderr, n_traj = result.p1, result.p1_stderr, result.trajectories
        ones = np.random.default_rng(seed).binomial(int(shots), p1)
        counts = np.stack([shots - ones, ones], axis=1)
        return EmulationResult(counts=counts, shots=int(shots), backend=backend, p1=p1, p1_stderr=stderr,
                               method=chosen, trajectories=n_traj)
    emulator = profile if hasattr(profile, "run") else _local_emulator(profile)
    counts = np.zeros((len(compiled_circuits), 2), dtype=np.int64)
    for i, c in enumerate(compiled_circuits):
        circuit = getattr(c, "circuit", c)
        with warnings.catch_warnings():  # braket warns about its own noise model
            warnings.simplefilter("ignore", UserWarning)
            measured = emulator.run(circuit, shots=int(shots)).result().measurement_counts
        counts[i] = [measured.get("0", 0), measured.get("1", 0)]
    return EmulationResult(counts=counts, shots=int(shots), backend=backend, p1=None, method="density_matrix")


def _local_emulator(profile: Any):
    from qml_ops.hardware.profiles import build_local_emulator

    return build_local_emulator(profile)
