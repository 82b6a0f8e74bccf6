"""Calibrated QPU emulators in torch: a device's noise, offline and free.

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
:mod:`.noise` holds those channels and any others (amplitude and phase damping,
T1/T2 relaxation, Pauli twirls); two emulators apply them to many samples at once:

* :mod:`.density_matrix`: exact probabilities, ``4**n`` memory (<= 13 qubits);
* :mod:`.trajectories`: state-vector trajectories with sampled errors, ``2**n``
  memory, a standard error per sample, CPU or CUDA.

:func:`~.run.run_emulated` picks one (``method="auto"``, :mod:`.settings`: the
density matrix up to 10 qubits, trajectories above) and samples shot counts.
Names are loaded on first use, so importing :mod:`.settings` does not import torch.

Example:
    >>> from qml_ops.hardware.emulator import run_emulated
    >>> result = run_emulated(compiled, profile, shots=1000, seed=0)   # doctest: +SKIP
    >>> result.method, result.p1[:3], result.p1_stderr[:3]             # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "MAX_QUBITS": "density_matrix", "exact_p1": "density_matrix",
    "Channel": "noise", "NoiseParams": "noise", "pauli_matrix": "noise", "thermal_relaxation": "noise",
    "circuit_ops": "program",
    "BACKENDS": "run", "EmulationResult": "run", "circuit_qubits": "run", "run_emulated": "run",
    "AUTO_DENSITY_MATRIX_MAX_QUBITS": "settings", "DEFAULT_MAX_QUBITS": "settings",
    "DEFAULT_TRAJECTORIES": "settings", "DENSITY_MATRIX_MAX_QUBITS": "settings", "METHODS": "settings",
    "EmulatorSettings": "settings", "choose_method": "settings", "unsupported_reason": "settings",
    "TrajectoryResult": "trajectories", "trajectory_p1": "trajectories",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
