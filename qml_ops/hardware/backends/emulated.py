"""Emulator backends: a device's calibrated noise, offline and free.

Three implementations of :class:`~qml_ops.hardware.backends.base.Backend` over
:func:`qml_ops.hardware.emulator.run_emulated`, with the noise of the device's
calibration profile (the channels of Braket's ``LocalEmulator``):

* :class:`TorchEmulatorBackend` (``"torch"``): the torch emulator with the
  configured method (:class:`EmulatorSettings`): ``auto`` runs the exact
  density matrix on small circuits and trajectories on large ones;
* :class:`TrajectoryEmulatorBackend` (``"trajectories"``): the torch
  trajectory emulator whatever the size (state vectors, sampled errors, a
  standard error per sample);
* :class:`LocalEmulatorBackend` (``"braket"``): Braket's own ``LocalEmulator``,
  one density-matrix simulation per circuit (slow; the reference).

Nothing is spent: ``committed_usd`` is the estimate (what the same run would
cost on the QPU), ``spent_usd`` is 0, and ``tasks`` is the estimate's count.
Each backend says, before running, whether the circuits are within its
configured cost (:meth:`unsupported_reason`).

Example:
    >>> backend = TorchEmulatorBackend(get_device("iqm-garnet"), load_profile("iqm-garnet"), seed=0)  # doctest: +SKIP
    >>> run = backend.run(circuits, 200, sample_indices=[0, 1], estimate=est)   # doctest: +SKIP
    >>> run.provenance.emulator_method, run.p1, run.p1_stderr                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar, Sequence

from qml_ops.cost import Estimate
from qml_ops.hardware.backends.base import EMULATOR, DeviceRun, Provenance, check_batch
from qml_ops.hardware.devices import Device
from qml_ops.hardware.emulator.settings import EmulatorSettings, choose_method, unsupported_reason
from qml_ops.hardware.latency import Latency

__all__ = ["EMULATED_COST_BASIS", "EmulatorSettings", "TorchEmulatorBackend", "TrajectoryEmulatorBackend",
           "LocalEmulatorBackend"]

EMULATED_COST_BASIS = "estimate (emulated: nothing spent)"


@dataclass(frozen=True)
class _EmulatorBackend:
    """Shared run of the emulator backends; ``name`` is ``run_emulated``'s backend."""

    device: Device
    profile: Any
    seed: int | None = None
    settings: EmulatorSettings = field(default_factory=EmulatorSettings)

    kind: ClassVar[str] = EMULATOR
    name: ClassVar[str]
    _engine: ClassVar[str] = "torch"

    def method_for(self, circuits: Sequence[Any]) -> str:
        """The method these circuits would run with."""
        from qml_ops.hardware.emulator import circuit_qubits

        if self._engine == "braket":
            return "density_matrix"
        return choose_method(circuit_qubits(circuits), self.settings.method)

    def unsupported_reason(self, circuits: Sequence[Any]) -> str | None:
        """Why these circuits cannot be emulated at the configured cost, or None."""
        from qml_ops.hardware.emulator import circuit_qubits

        method = "braket" if self._engine == "braket" else self.method_for(circuits)
        return unsupported_reason(circuit_qubits(circuits), method, self.settings.max_qubits)

    def run(self, circuits: Sequence[Any], shots: int, *, sample_indices: Sequence[int],
            estimate: Estimate) -> DeviceRun:
        from qml_ops.hardware.emulator import run_emulated

        check_batch(self.device, circuits, shots, sample_indices, estimate)
        s = self.settings
        started = time.perf_counter()
        if self._engine == "braket":
            result = run_emulated(circuits, self.profile, shots, backend="braket", seed=self.seed)
        else:
            result = run_emulated(circuits, self.profile, shots, backend="torch", seed=self.seed, method=s.method,
                                  trajectories=s.trajectories, device=s.torch_device())
        wall_s = time.perf_counter() - started
        return DeviceRun(
            counts=result.counts.astype(float), p1=result.p1,
            sample_indices=tuple(int(i) for i in sample_indices), shots=int(shots),
            tasks=estimate.tasks, task_rows=(),
            committed_usd=estimate.cost_usd, spent_usd=Decimal(0), cost_basis=EMULATED_COST_BASIS,
            latency=Latency(tasks=(), wall_s=round(wall_s, 3), per_inference_s=wall_s / len(circuits)),
            pending=False, failed_samples=(),
            provenance=Provenance(
                backend=self.name, kind=self.kind, device_id=self.device.id, device_arn=self.device.arn,
                profile_source=getattr(self.profile, "source", None),
                profile_date=getattr(self.profile, "snapshot_date", None), emulator=self._engine,
                emulator_method=result.method, trajectories=result.trajectories,
            ),
            p1_stderr=result.p1_stderr,
        )


@dataclass(frozen=True)
class TorchEmulatorBackend(_EmulatorBackend):
    """The torch emulator: exact density matrix or trajectories, by ``settings.method``."""

    name: ClassVar[str] = "torch"


@dataclass(frozen=True)
class TrajectoryEmulatorBackend(_EmulatorBackend):
    """The torch trajectory emulator at any size (``settings.method`` is ignored)."""

    name: ClassVar[str] = "trajectories"

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", replace(self.settings, method="trajectories"))


@dataclass(frozen=True)
class LocalEmulatorBackend(_EmulatorBackend):
    """Braket's ``LocalEmulator`` (``braket_dm``): the reference, about seconds per circuit.

    Its density-matrix simulator samples from an unseeded generator: counts vary
    between runs; ``p1`` is not available.
    """

    name: ClassVar[str] = "braket"
    _engine: ClassVar[str] = "braket"
