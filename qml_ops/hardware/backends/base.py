"""The backend interface: one way to run compiled circuits, whatever runs them.

A :class:`Backend` runs a batch of compiled circuits (one per sample) for a
number of shots and returns a :class:`DeviceRun`: per-sample counts, exact
probabilities where the backend knows them, tasks, committed and spent cost,
a latency breakdown and provenance. Validation (:mod:`qml_ops.hardware.validation`)
only talks to this interface; :mod:`qml_ops.hardware.backends.registry` builds
the implementation a configuration names. This is the split the PennyLane-Braket
plugin makes between its local and AWS devices; new noise models, trajectory
emulation, error mitigation or other providers plug in as new backends.

Example:
    >>> backend = backend_for("torch", device, profile, BackendOptions(seed=0))  # doctest: +SKIP
    >>> run = backend.run(circuits, 1000, sample_indices=range(len(circuits)),    # doctest: +SKIP
    ...                   estimate=estimate(device, len(circuits), 1000))
    >>> run.counts.shape, run.committed_usd, run.spent_usd                        # doctest: +SKIP
    ((48, 2), Decimal('36.24'), Decimal('0'))
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from qml_ops.cost import Estimate
from qml_ops.errors import HardwareError
from qml_ops.hardware.devices import Device
from qml_ops.hardware.latency import Latency
from qml_ops.hardware.ledger import TaskRow

__all__ = ["EMULATOR", "QPU", "Backend", "DeviceRun", "Provenance", "check_batch"]

#: ``Backend.kind``: a (free, offline) emulator, or a real (paid) QPU.
EMULATOR, QPU = "emulator", "qpu"


@dataclass(frozen=True)
class Provenance:
    """Where a run's figures come from.

    Attributes:
        backend: the backend's name (``"torch"``, ``"braket"``, ``"qpu"``).
        kind: ``"emulator"`` or ``"qpu"``.
        device_id, device_arn: the catalogue device.
        profile_source, profile_date: the calibration profile (file and snapshot date).
        emulator: which emulator produced the counts (``None`` on a QPU).
        emulator_method: how it computed them: ``"density_matrix"`` or
            ``"trajectories"`` (``None`` on a QPU).
        trajectories: trajectories per sample (method ``trajectories``), else ``None``.
        run_key: the QPU run's key in the task ledger (``None`` for an emulator).
        ledger_path: the task ledger (``None`` for an emulator).
    """

    backend: str
    kind: str
    device_id: str
    device_arn: str | None
    profile_source: str | None
    profile_date: str | None
    emulator: str | None = None
    emulator_method: str | None = None
    trajectories: int | None = None
    run_key: str | None = None
    ledger_path: str | None = None


@dataclass(frozen=True)
class DeviceRun:
    """The result of :meth:`Backend.run`.

    Attributes:
        counts: ``(n_samples, 2)`` float counts of reading 0 and 1 on the readout
            qubit, in the order of the circuits; ``NaN`` rows for samples without
            a result (pending, failed or cancelled tasks).
        p1: exact probability of reading 1 per sample where the backend knows it
            (the torch emulator), else ``None``.
        sample_indices: the dataset index of each row.
        shots: shots per sample.
        tasks: number of tasks (for an emulator: as a QPU run would have).
        task_rows: the ledger rows of the run's tasks (QPU), else empty.
        committed_usd: what the run costs at price-table rates (QPU: every task
            created; emulator: what the same run on the QPU would cost), exact.
        spent_usd: what was actually spent (QPU: what Braket bills for final tasks,
            :mod:`qml_ops.hardware.billing`, and the committed cost of tasks not final
            yet; an emulator spends nothing), exact.
        cost_basis: how ``committed_usd`` was obtained, in words.
        latency: per task queue/execution/total seconds, wall time, per inference.
        pending: True while some task has no final result yet (call again).
        failed_samples: sample indices whose task failed or was cancelled.
        provenance: backend, device, profile, emulator, ledger.
        resume_hint: what to do about pending results (QPU), else ``None``.
        notes: lines to show with the run (QPU: AWS spending limits, execution windows).
        p1_stderr: the emulator's own standard error of ``p1`` per sample (the
            trajectory emulator's spread over trajectories / √T; 0 for the exact
            density matrix), else ``None``: an interval on the counts can add it
            to the shot noise.
    """

    counts: np.ndarray
    p1: np.ndarray | None
    sample_indices: tuple[int, ...]
    shots: int
    tasks: int
    task_rows: tuple[TaskRow, ...]
    committed_usd: Decimal
    spent_usd: Decimal
    cost_basis: str
    latency: Latency
    pending: bool
    failed_samples: tuple[int, ...]
    provenance: Provenance
    resume_hint: str | None = None
    notes: tuple[str, ...] = ()
    p1_stderr: np.ndarray | None = None

    @property
    def done(self) -> np.ndarray:
        """Boolean mask of samples with counts."""
        return ~np.isnan(self.counts).any(axis=1)


@runtime_checkable
class Backend(Protocol):
    """Runs compiled circuits for one device.

    Attributes:
        kind: ``"emulator"`` or ``"qpu"``.
        name: the backend's registry name (``"torch"``, ``"trajectories"``, ``"braket"``, ``"qpu"``).
        device: the catalogue device it runs for (prices included).
        profile: the calibration profile circuits are compiled and validated for.

    A backend may also define ``unsupported_reason(circuits) -> str | None``:
    why it cannot run these circuits at its configured cost (the emulators: too
    many qubits for the method), checked before :meth:`run`.
    """

    kind: str
    name: str
    device: Device
    profile: Any

    def run(self, circuits: Sequence[Any], shots: int, *, sample_indices: Sequence[int],
            estimate: Estimate) -> DeviceRun:
        """Run one circuit per sample for ``shots`` shots.

        Args:
            circuits: :class:`~qml_ops.hardware.compile.CompiledCircuit` objects
                compiled for ``profile``.
            shots: shots per circuit.
            sample_indices: the dataset index of each circuit.
            estimate: the price of this run on ``device`` (what is approved for a
                QPU; what an emulator reports as the cost it stands for).
        """
        ...


def check_batch(device: Device, circuits: Sequence[Any], shots: int, sample_indices: Sequence[int],
                estimate: Estimate) -> None:
    """The common preconditions of :meth:`Backend.run`.

    Raises:
        HardwareError: no circuits, one index per circuit missing, or an estimate
            for another device, sample count or shots.
    """
    if not circuits:
        raise HardwareError(f"{device.id}: nothing to run (0 circuits)")
    if len(sample_indices) != len(circuits):
        raise HardwareError(
            f"{device.id}: sample_indices has {len(sample_indices)} entries for {len(circuits)} circuits"
        )
    if (estimate.device, estimate.n_samples, estimate.shots) != (device.id, len(circuits), shots):
        raise HardwareError(
            f"the estimate is for {estimate.device}, {estimate.n_samples} samples x {estimate.shots} "
            f"shots, but the run is {device.id}, {len(circuits)} samples x {shots} shots"
        )
