"""The Braket QPU backend: real tasks, behind the spend gate and the task ledger.

:class:`BraketQpuBackend` runs circuits through
:func:`qml_ops.hardware.qpu.run_on_qpu` (plan = estimate, spend gate, ledger row
before each create, idempotent client tokens, resume and reconciliation) and
returns its result as a :class:`~qml_ops.hardware.backends.base.DeviceRun`.

The run key is the configured key plus a digest of the circuits: the same
circuits resume the same run; other circuits (another compile seed, other
samples) are a new run with its own approval. The ledger should sit in the real
project (``<root>/hardware/ledger.json``, also for ``dvc exp run --temp``
copies), so a re-run anywhere reconnects to the tasks it already paid for.

Example:
    >>> settings = QpuSettings(approve_usd=2, max_budget_usd=5, ledger_path=default_ledger_path(),  # doctest: +SKIP
    ...                        run_key="qcnn-v3-6x100", model_version="3",
    ...                        s3_bucket="amazon-braket-my-bucket", s3_prefix="qml-ops")
    >>> BraketQpuBackend(device, profile, settings).run(circuits, 100, sample_indices=range(6),  # doctest: +SKIP
    ...                                                  estimate=est).spent_usd
    Decimal('1.17')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from qml_ops.cost import Estimate
from qml_ops.hardware.backends.base import QPU, DeviceRun, Provenance, check_batch
from qml_ops.hardware.devices import Device

__all__ = ["QPU_COST_BASIS", "QpuSettings", "BraketQpuBackend", "run_key_for"]

QPU_COST_BASIS = "price table (tasks created)"


@dataclass(frozen=True)
class QpuSettings:
    """What a QPU run needs beyond the circuits (see :func:`~qml_ops.hardware.qpu.run_on_qpu`).

    ``run_key`` is the prefix of the ledger's run key (the circuits' digest is
    appended); ``braket_client``/``s3_client`` are injected boto3 clients (tests).
    ``approve_usd``/``max_budget_usd`` are per-run ceilings, ``total_budget_usd`` the
    budget of all runs in ``budget_period``; the approval itself is recorded in the
    ledger (:mod:`qml_ops.hardware.approvals`).
    """

    approve_usd: Any
    max_budget_usd: Any
    ledger_path: Path
    run_key: str
    model_version: str
    s3_bucket: str | None
    s3_prefix: str
    one_task_per_inference: bool = False
    total_budget_usd: Any = None
    budget_period: str = "month"
    refuse_outside_window: bool = False
    enforce_spending_limit: bool = False
    poll_timeout_s: float = 300
    poll_interval_s: float = 5
    braket_client: Any = None
    s3_client: Any = None


def run_key_for(prefix: str, circuits: Sequence[Any]) -> str:
    """``prefix`` plus the first 10 hex digits of the sha256 of the circuits' native ops."""
    digest = hashlib.sha256(repr([c.ops for c in circuits]).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


@dataclass(frozen=True)
class BraketQpuBackend:
    """A real Braket QPU through the ledgered, gated submitter."""

    device: Device
    profile: Any
    settings: QpuSettings

    kind: ClassVar[str] = QPU
    name: ClassVar[str] = "qpu"

    def run(self, circuits: Sequence[Any], shots: int, *, sample_indices: Sequence[int],
            estimate: Estimate) -> DeviceRun:
        """Create (or reconnect to) the tasks of ``estimate``; see :func:`~qml_ops.hardware.qpu.run_on_qpu`.

        Raises:
            BudgetError: the spend gate denied the run.
            HardwareError: as :func:`~qml_ops.hardware.qpu.run_on_qpu`.
        """
        from qml_ops.hardware.qpu import run_on_qpu

        check_batch(self.device, circuits, shots, sample_indices, estimate)
        s = self.settings
        run_key = run_key_for(s.run_key, circuits)
        result = run_on_qpu(
            self.device, circuits, shots, sample_indices=list(sample_indices), estimate=estimate,
            approve_usd=s.approve_usd, max_budget_usd=s.max_budget_usd, ledger_path=s.ledger_path,
            run_key=run_key, model_version=s.model_version, s3_bucket=s.s3_bucket,
            s3_prefix=s.s3_prefix, one_task_per_inference=s.one_task_per_inference,
            total_budget_usd=s.total_budget_usd, budget_period=s.budget_period,
            refuse_outside_window=s.refuse_outside_window, enforce_spending_limit=s.enforce_spending_limit,
            braket_client=s.braket_client, s3_client=s.s3_client, poll_timeout_s=s.poll_timeout_s,
            poll_interval_s=s.poll_interval_s, profile=self.profile,
        )
        hint = (f"tasks still pending after {s.poll_timeout_s:g} s; re-run the stage to collect them "
                f"(no new task is created: the ledger {s.ledger_path} reconnects), or see "
                "`qml-ops hardware status`") if result.pending else None
        return DeviceRun(
            counts=result.counts, p1=None, sample_indices=tuple(result.sample_indices), shots=int(shots),
            tasks=len(result.tasks), task_rows=tuple(result.tasks),
            committed_usd=result.cost_usd, spent_usd=result.spent_usd, cost_basis=QPU_COST_BASIS,
            latency=result.latency, pending=result.pending,
            failed_samples=tuple(result.failed_samples),
            provenance=Provenance(
                backend=self.name, kind=self.kind, device_id=self.device.id, device_arn=self.device.arn,
                profile_source=getattr(self.profile, "source", None),
                profile_date=getattr(self.profile, "snapshot_date", None),
                run_key=run_key, ledger_path=str(s.ledger_path),
            ),
            resume_hint=hint, notes=result.notes,
        )
