"""Which backend runs a configuration: a lookup table from name to factory.

``hardware.mode`` ``emulate`` runs the configured ``hardware.emulator``
(``"torch"``, whose ``hardware.emulator_method`` picks the density matrix or
trajectories, or ``"braket"``); ``qpu`` runs the real device. ``"trajectories"``
is the trajectory emulator at any size. A new backend (a noise model, error
mitigation, another provider) is one :func:`register_backend` call away.

Example:
    >>> from qml_ops.hardware.backends import BackendOptions, backend_for, backend_name
    >>> backend_name("emulate", "torch"), backend_name("qpu", "torch")
    ('torch', 'qpu')
    >>> backend = backend_for("torch", device, profile, BackendOptions(seed=0))   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from qml_ops.errors import HardwareError
from qml_ops.hardware.backends.base import Backend
from qml_ops.hardware.backends.braket_qpu import BraketQpuBackend, QpuSettings
from qml_ops.hardware.backends.emulated import (
    EmulatorSettings, LocalEmulatorBackend, TorchEmulatorBackend, TrajectoryEmulatorBackend,
)
from qml_ops.hardware.devices import Device

__all__ = ["BackendOptions", "backend_for", "backend_name", "backend_names", "register_backend"]


@dataclass(frozen=True)
class BackendOptions:
    """Settings a factory may use: the emulators' ``seed`` (trajectories and shots) and
    ``emulator`` settings (method, trajectories, torch device, qubit limit), the QPU's ``qpu``."""

    seed: int | None = None
    qpu: QpuSettings | None = None
    emulator: EmulatorSettings = EmulatorSettings()


BackendFactory = Callable[[Device, Any, BackendOptions], Backend]


def _qpu(device: Device, profile: Any, options: BackendOptions) -> Backend:
    if options.qpu is None:
        raise HardwareError("hardware.mode = 'qpu' needs the QPU settings (ledger, approval, S3)")
    return BraketQpuBackend(device, profile, options.qpu)


_FACTORIES: dict[str, BackendFactory] = {
    TorchEmulatorBackend.name: lambda device, profile, o: TorchEmulatorBackend(device, profile, o.seed, o.emulator),
    LocalEmulatorBackend.name: lambda device, profile, o: LocalEmulatorBackend(device, profile, o.seed, o.emulator),
    BraketQpuBackend.name: _qpu,
    TrajectoryEmulatorBackend.name: lambda device, profile, o: TrajectoryEmulatorBackend(device, profile, o.seed,
                                                                                         o.emulator),
}

#: ``hardware.mode`` -> the backend name it runs (``emulate``: the configured emulator).
_MODES: dict[str, Callable[[str], str]] = {
    "emulate": lambda emulator: emulator,
    "qpu": lambda emulator: BraketQpuBackend.name,
}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``backend_for(name, ...)`` build ``factory(device, profile, options)``."""
    _FACTORIES[name] = factory


def backend_names() -> tuple[str, ...]:
    """The registered backend names."""
    return tuple(_FACTORIES)


def backend_name(mode: str, emulator: str) -> str:
    """The backend a ``hardware.mode`` runs (``emulator``: ``hardware.emulator``).

    Raises:
        HardwareError: for a mode that runs nothing (``off``) or an unknown one.
    """
    try:
        return _MODES[mode](emulator)
    except KeyError:
        raise HardwareError(
            f"hardware.mode {mode!r} runs no backend; modes that do: {sorted(_MODES)}"
        ) from None


def backend_for(name: str, device: Device, profile: Any, options: BackendOptions = BackendOptions()) -> Backend:
    """Build the backend ``name`` for ``device`` and its calibration ``profile``.

    Raises:
        HardwareError: an unknown name, or a QPU without ``options.qpu``.
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise HardwareError(
            f"backend must be one of {sorted(_FACTORIES)}, but got backend={name!r}"
        ) from None
    return factory(device, profile, options)
