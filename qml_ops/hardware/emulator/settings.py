"""The torch emulator's methods, limits and defaults, and how a method is chosen (no torch here).

* ``density_matrix``: exact, memory and time ``~4**n``; up to :data:`DENSITY_MATRIX_MAX_QUBITS`.
* ``trajectories``: ``T`` state vectors per sample, ``~T·2**n``; up to the
  configured ``max_qubits`` (``hardware.emulator_max_qubits``).
* ``auto``: the density matrix up to :data:`AUTO_DENSITY_MATRIX_MAX_QUBITS`
  qubits, trajectories above. Measured (benchmarks/results/emulator.json,
  ``method_crossover``; 48 samples, Garnet, one CPU thread): the density
  matrix takes 0.26 s at 8 qubits, 4.6 s at 10 and 147 s at 12, 64 trajectories
  0.17 s, 0.49 s and 1.2 s: up to 10 qubits the exact method costs seconds,
  beyond it grows 30x per two qubits.

Example:
    >>> choose_method(8), choose_method(16), choose_method(16, "density_matrix")
    ('density_matrix', 'trajectories', 'density_matrix')
    >>> unsupported_reason(16, "density_matrix", max_qubits=22)[:44]
    'the circuit uses 16 qubits; density-matrix e'
"""

from __future__ import annotations

from dataclasses import dataclass

from qml_ops.errors import HardwareError

__all__ = ["METHODS", "DENSITY_MATRIX_MAX_QUBITS", "AUTO_DENSITY_MATRIX_MAX_QUBITS", "DEFAULT_TRAJECTORIES",
           "DEFAULT_MAX_QUBITS", "EmulatorSettings", "choose_method", "unsupported_reason"]

METHODS = ("auto", "density_matrix", "trajectories")
#: Largest register the density matrix accepts (a 4^13 operator is 1 GiB).
DENSITY_MATRIX_MAX_QUBITS = 13
#: ``auto`` uses the density matrix up to this many qubits (see the module docstring).
AUTO_DENSITY_MATRIX_MAX_QUBITS = 10
#: Trajectories per sample unless configured (``hardware.trajectories``).
DEFAULT_TRAJECTORIES = 64
#: Trajectory emulation's qubit limit unless configured (``hardware.emulator_max_qubits``): 22 qubits
#: is 64x the cost of 16 (about an hour per device on 2 CPU cores; minutes on a GPU).
DEFAULT_MAX_QUBITS = 22


def choose_method(n_qubits: int, method: str = "auto") -> str:
    """``density_matrix`` or ``trajectories`` for a circuit on ``n_qubits`` qubits.

    Raises:
        HardwareError: for a method outside :data:`METHODS`.
    """
    if method not in METHODS:
        raise HardwareError(f"emulator method must be one of {list(METHODS)}, but got method={method!r}")
    if method != "auto":
        return method
    return "density_matrix" if n_qubits <= AUTO_DENSITY_MATRIX_MAX_QUBITS else "trajectories"


def unsupported_reason(n_qubits: int, method: str, max_qubits: int = DEFAULT_MAX_QUBITS) -> str | None:
    """Why a circuit on ``n_qubits`` qubits cannot be emulated with ``method``, or None.

    Args:
        n_qubits: physical qubits the compiled circuit uses.
        method: ``density_matrix`` or ``trajectories`` (after :func:`choose_method`),
            or ``braket`` (LocalEmulator, a density matrix too).
        max_qubits: the configured limit of the trajectory emulator.
    """
    if method in ("density_matrix", "braket") and n_qubits > DENSITY_MATRIX_MAX_QUBITS:
        return (f"the circuit uses {n_qubits} qubits; density-matrix emulation ({method}) handles <= "
                f"{DENSITY_MATRIX_MAX_QUBITS} (a 4^{n_qubits} matrix); use hardware.emulator: torch with "
                "emulator_method auto or trajectories")
    if method == "trajectories" and n_qubits > max_qubits:
        return (f"the circuit uses {n_qubits} qubits; hardware.emulator_max_qubits is {max_qubits} (each "
                f"trajectory is a 2^{n_qubits} state vector; the cost doubles per qubit)")
    return None


@dataclass(frozen=True)
class EmulatorSettings:
    """How the torch emulator runs (``hardware.emulator_method``, ``trajectories``,
    ``emulator_device``, ``emulator_max_qubits``).

    Attributes:
        method: ``auto``, ``density_matrix`` or ``trajectories``.
        trajectories: trajectories per sample (method ``trajectories``).
        device: torch device of the trajectories: ``auto`` (CUDA when present), ``cpu``, ``cuda``.
        max_qubits: circuits on more qubits are not run by trajectories (unsupported).
    """

    method: str = "auto"
    trajectories: int = DEFAULT_TRAJECTORIES
    device: str = "auto"
    max_qubits: int = DEFAULT_MAX_QUBITS

    def torch_device(self) -> str:
        """The torch device to use.

        Raises:
            HardwareError: ``cuda`` asked for but torch sees no CUDA device.
        """
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise HardwareError("hardware.emulator_device is 'cuda', but torch sees no CUDA device; "
                                "use 'auto' or 'cpu'")
        return self.device
