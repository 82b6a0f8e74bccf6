"""Backends that run compiled circuits: one interface, an emulator or a QPU behind it.

* ``base``: the :class:`Backend` protocol and its typed result :class:`DeviceRun`;
* ``emulated``: the torch emulator (density matrix or trajectories) and Braket's ``LocalEmulator``;
* ``braket_qpu``: a real Braket QPU through the gated, ledgered submitter;
* ``registry``: name -> factory (``backend_for``), ``hardware.mode`` -> name.
"""

from qml_ops.hardware.backends.base import EMULATOR, QPU, Backend, DeviceRun, Provenance
from qml_ops.hardware.backends.braket_qpu import BraketQpuBackend, QpuSettings
from qml_ops.hardware.backends.emulated import (
    EmulatorSettings, LocalEmulatorBackend, TorchEmulatorBackend, TrajectoryEmulatorBackend,
)
from qml_ops.hardware.backends.registry import (
    BackendOptions, backend_for, backend_name, backend_names, register_backend,
)

__all__ = ["EMULATOR", "QPU", "Backend", "DeviceRun", "Provenance", "EmulatorSettings", "TorchEmulatorBackend",
           "TrajectoryEmulatorBackend", "LocalEmulatorBackend", "BraketQpuBackend", "QpuSettings", "BackendOptions",
           "backend_for", "backend_name", "backend_names", "register_backend"]
