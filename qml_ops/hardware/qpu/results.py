"""Results of QPU tasks: ``results.json`` from S3 to per-sample counts, and the run's result.

:func:`read_task_results` reads both Braket result schemas (a single circuit's
``GateModelTaskResult`` and a program set's ``ProgramSetTaskResult``, inline or
with paths relative to its ``s3Location``) and counts the readout qubit's 0s
and 1s per sample. :func:`assemble_result` turns the ledger rows of a run into
its :class:`QpuResult`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np

from qml_ops.cost import Estimate
from qml_ops.errors import HardwareError
from qml_ops.hardware.latency import Latency, TaskLatency
from qml_ops.hardware import billing
from qml_ops.hardware.ledger import FAILED_STATES, TaskRow, spend
from qml_ops.hardware.qpu import aws
from qml_ops.hardware.qpu.planning import PlannedTask
from qml_ops.money import to_cents

__all__ = ["RESULTS_FILENAME", "QpuResult", "read_task_results", "assemble_result"]

log = logging.getLogger(__name__)

RESULTS_FILENAME = "results.json"


@dataclass(frozen=True)
class QpuResult:
    """What :func:`~qml_ops.hardware.qpu.run_on_qpu` returns.

    Attributes:
        counts: ``(n_samples, 2)`` float array of counts of reading 0 and 1 on the
            readout qubit, rows in the order of the circuits; ``NaN`` rows for
            samples whose task is pending, failed or cancelled.
        tasks: the ledger rows of this run on this device (latest attempts last).
        cost_usd: committed: the price-table cost of every task *created* so far (all
            attempts), exact (not rounded).
        pending: True while some task is not terminal or its results are unread.
        latency: per task queue/execution/total seconds, the call's wall time and
            the mean task turnaround per completed sample.
        sample_indices: the dataset index of each row of ``counts``.
        failed_samples: sample indices whose task failed or was cancelled.
        spent_usd: what Braket bills for those tasks (:func:`qml_ops.hardware.billing.spent`:
            final tasks as billed, the others at their committed cost), exact.
        notes: what the run should show beside its figures (AWS spending limits,
            execution windows).
    """

    counts: np.ndarray
    tasks: list[TaskRow]
    cost_usd: Decimal
    pending: bool
    latency: Latency
    sample_indices: list[int] = field(default_factory=list)
    failed_samples: list[int] = field(default_factory=list)
    spent_usd: Decimal = Decimal(0)
    notes: tuple[str, ...] = ()

    @property
    def done(self) -> np.ndarray:
        """Boolean mask of samples with counts."""
        return ~np.isnan(self.counts[:, 0])


# ------------------------------------------------------------------ reading


def _count(measurements, probabilities, measured_qubits, readout: int, shots: int) -> tuple[int, int]:
    column = 0
    if measured_qubits:
        if readout not in measured_qubits:
            raise HardwareError(f"the result does not measure the readout qubit {readout}")
        column = list(measured_qubits).index(readout)
    if measurements:
        ones = sum(int(shot[column]) for shot in measurements)
        return (len(measurements) - ones, ones)
    if probabilities:
        p1 = sum(p for bits, p in probabilities.items() if bits[column] == "1")
        ones = int(round(p1 * shots))
        return (shots - ones, ones)
    raise HardwareError("the result has neither measurements nor measurement probabilities")


def _s3_text(s3, bucket: str, key: str) -> str:
    response = aws.read(s3.get_object, f"reading s3://{bucket}/{key}", Bucket=bucket, Key=key)
    return response["Body"].read().decode()


def _execution_s(additional_metadata) -> float | None:
    sim = getattr(additional_metadata, "simulatorMetadata", None)
    if sim is not None and getattr(sim, "executionDuration", None) is not None:
        return sim.executionDuration / 1000.0
    return None


def read_task_results(s3, bucket: str, directory: str,
                      task: PlannedTask) -> tuple[list[tuple[int, int] | None], float | None]:
    """Per-sample ``(n0, n1)`` (``None`` for a failed executable) of one completed
    task from ``s3://bucket/directory/results.json``, and its execution seconds.

    Reads both Braket result schemas: ``GateModelTaskResult`` (one circuit) and
    ``ProgramSetTaskResult`` (program results and executable results inline, or as
    paths relative to its ``s3Location``), with the injected S3 client.

    Raises:
        HardwareError: the file cannot be read or parsed, or does not match the task.
    """
    from braket.schema_common import BraketSchemaBase
    from braket.task_result import GateModelTaskResult, ProgramSetTaskResult
    from braket.task_result.program_set_executable_failure_v1 import ProgramSetExecutableFailure

    text = _s3_text(s3, bucket, f"{directory}/{RESULTS_FILENAME}")
    try:
        result = BraketSchemaBase.parse_raw_schema(text)
    except Exception as exc:  # pydantic / JSON errors
        raise HardwareError(f"cannot parse s3://{bucket}/{directory}/{RESULTS_FILENAME}: {exc}") from None
    if isinstance(result, GateModelTaskResult):
        if task.program_set:
            raise HardwareError(f"task {task.index} is a program set but its result is a single circuit's")
        counts = _count(result.measurements, result.measurementProbabilities, result.measuredQubits,
                        task.readout_qubits[0], task.shots)
        return [counts], _execution_s(result.additionalMetadata)
    if not isinstance(result, ProgramSetTaskResult):
        raise HardwareError(f"unexpected result type {type(result).__name__} for task {task.index}")
    loc_bucket, loc_prefix = result.s3Location or (None, None)

    def load(item, prefix: str | None):
        """An inline schema object, or one read from ``prefix/item`` (relative path)."""
        if not isinstance(item, str):
            return item, None
        if not loc_bucket:
            raise HardwareError(f"result of task {task.index} refers to {item!r} without s3Location")
        key = f"{prefix}/{item}"
        return BraketSchemaBase.parse_raw_schema(_s3_text(s3, loc_bucket, key)), key

    out: list[tuple[int, int] | None] = []
    if len(result.programResults) != len(task.positions):
        raise HardwareError(
            f"task {task.index}: {len(result.programResults)} program results for "
            f"{len(task.positions)} programs"
        )
    for item, readout in zip(result.programResults, task.readout_qubits):
        program, key = load(item, loc_prefix)
        # as the SDK: paths inside a program result are relative to its key
        # without the trailing "/results.json"
        base = key.removesuffix(f"/{RESULTS_FILENAME}") if key else None
        executable, _ = load(program.executableResults[0], base)
        if isinstance(executable, ProgramSetExecutableFailure):
            log.warning("task %d: an executable failed: %s", task.index,
                        executable.failureMetadata.failureReason)
            out.append(None)
            continue
        out.append(_count(executable.measurements, executable.measurementProbabilities,
                          executable.measuredQubits, readout, task.shots))
    return out, None


# ------------------------------------------------------------------ the run's result


def assemble_result(plan: Sequence[PlannedTask], latest: Mapping[int, TaskRow], all_rows: list[TaskRow],
                    estimate: Estimate, sample_indices: Sequence[int], wall_s: float,
                    notes: Sequence[str] = ()) -> QpuResult:
    """The :class:`QpuResult` of a run from its plan and ledger rows.

    Args:
        plan: the run's tasks.
        latest: task index -> the row of its latest attempt.
        all_rows: every row of the run on the device (all attempts).
        estimate: the approved estimate (the first attempts must cost exactly it).
        sample_indices: dataset index of each circuit.
        wall_s: seconds this call took.
        notes: lines to show with the result.
    """
    counts = np.full((len(sample_indices), 2), np.nan)
    failed: list[int] = []
    per_task: list[TaskLatency] = []
    turnaround, done_samples = 0.0, 0
    for task in plan:
        row = latest.get(task.index)
        if row is None:
            continue
        if row.state in FAILED_STATES:
            failed.extend(task.sample_indices)
        if row.counts is not None:
            for pos, c in zip(task.positions, row.counts):
                if c is not None:
                    counts[pos] = c
        if row.total_s is not None and row.state == "COMPLETED":
            turnaround += row.total_s
            done_samples += len(task.positions)
        per_task.append(TaskLatency(task_index=task.index, queue_s=row.queue_s,
                                    execution_s=row.execution_s, total_s=row.total_s,
                                    executables=len(task.positions)))
    first = [r for r in all_rows if r.attempt == 0]
    if len(first) == len(plan) and all(r.is_created for r in first):
        first_cost = to_cents(spend(first))
        if first_cost != estimate.cost_usd:  # pragma: no cover - plan_tasks checks this
            raise HardwareError(
                f"the created tasks cost ${first_cost} but the approved estimate was ${estimate.cost_usd}"
            )
    pending = (any(r.awaiting_results or not r.is_created for r in latest.values())
               or len(latest) < len(plan))
    return QpuResult(
        counts=counts, tasks=list(all_rows), cost_usd=spend(all_rows), pending=pending,
        latency=Latency(tasks=tuple(per_task), wall_s=round(wall_s, 3),
                        per_inference_s=round(turnaround / done_samples, 3) if done_samples else None),
        sample_indices=[int(i) for i in sample_indices], failed_samples=sorted(failed),
        spent_usd=billing.spent(all_rows), notes=tuple(notes),
    )
