"""Emulator backends: a device's calibrated noise, offline and free.

Two implementations of :class:`~qml_ops.hardware.backends.base.Backend` over
:func:`qml_ops.hardware.emulator.run_emulated`, with the noise of the device's
calibration profile (the channels of Braket's ``LocalEmulator``):

* :class:`TorchEmulatorBackend` (``"torch"``): the batched density-matrix
  emulator; exact probabilities of reading 1, then sampled counts (seeded).
* :class:`LocalEmulatorBackend` (``"braket"``): Braket's own ``LocalEmulator``,
  one density-matrix simulation per circuit (slow; the reference).

Nothing is spent: ``committed_usd`` is the estimate (what the same run would
cost on the QPU), ``spent_usd`` is 0, and ``tasks`` is the estimate's count.

Example:
    >>> backend = TorchEmulatorBackend(get_device("iqm-garnet"), load_profile("iqm-garnet"), seed=0)  # doctest: +SKIP
    >>> backend.run(circuits, 200, sample_indices=[0, 1], estimate=est).p1      # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Sequence

from qml_ops.cost import Estimate
from qml_ops.hardware.backends.base import EMULATOR, DeviceRun, Provenance, check_batch
from qml_ops.hardware.devices import Device
from qml_ops.hardware.latency import Latency

__all__ = ["EMULATED_COST_BASIS", "TorchEmulatorBackend", "LocalEmulatorBackend"]

EMULATED_COST_BASIS = "estimate (emulated: nothing spent)"


@dataclass(frozen=True)
class _EmulatorBackend:
    """Shared run of the emulator backends; ``name`` is ``run_emulated``'s backend."""

    device: Device
    profile: Any
    seed: int | None = None

    kind: ClassVar[str] = EMULATOR
    name: ClassVar[str]

    def run(self, circuits: Sequence[Any], shots: int, *, sample_indices: Sequence[int],
            estimate: Estimate) -> DeviceRun:
        from qml_ops.hardware.emulator import run_emulated

        check_batch(self.device, circuits, shots, sample_indices, estimate)
        started = time.perf_counter()
        result = run_emulated(circuits, self.profile, shots, backend=self.name, seed=self.seed)
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
                profile_date=getattr(self.profile, "snapshot_date", None), emulator=self.name,
            ),
        )


@dataclass(frozen=True)
class TorchEmulatorBackend(_EmulatorBackend):
    """The batched torch density-matrix emulator (exact probabilities, seeded counts)."""

    name: ClassVar[str] = "torch"


@dataclass(frozen=True)
class LocalEmulatorBackend(_EmulatorBackend):
    """Braket's ``LocalEmulator`` (``braket_dm``): the reference, about seconds per circuit.

    Its density-matrix simulator samples from an unseeded generator: counts vary
    between runs; ``p1`` is not available.
    """

    name: ClassVar[str] = "braket"
