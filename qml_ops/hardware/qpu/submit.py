"""Submit and resume: :func:`run_on_qpu`, the only way qml-ops creates QPU tasks.

The order of a run (see :mod:`qml_ops.hardware.qpu` for the whole protocol):
check the estimate is this run's and plan exactly its tasks; under the
ledger's submission lock, match the ledger's rows to the plan; only if some
task still has to be created, run the pre-flight (circuit validation, the spend
gate, credentials, the live device), reconcile rows left by an interrupted
create, then for each task write its ledger row *before* ``CreateQuantumTask``
and record the ARN right after; finally poll until every task is terminal or
the poll timeout passes, reading completed tasks' results into the ledger.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from qml_ops.cost import Estimate
from qml_ops.errors import BudgetError, HardwareError
from qml_ops.hardware.devices import Device
from qml_ops.hardware.gate import QPU_MODE, check_spend
from qml_ops.hardware.ledger import FAILED_STATES, REJECTED, Ledger, TaskRow, latest_attempts, spend
from qml_ops.hardware.qpu import aws, clock, preflight
from qml_ops.hardware.qpu.planning import PlannedTask, check_estimate_is_this_run, plan_tasks
from qml_ops.hardware.qpu.recovery import reconcile
from qml_ops.hardware.qpu.results import QpuResult, assemble_result, read_task_results
from qml_ops.hardware.qpu.rows import check_row_matches, new_row
from qml_ops.money import parse_usd, to_cents

__all__ = ["run_on_qpu"]

log = logging.getLogger(__name__)


def run_on_qpu(
    device: Device,
    circuits: Sequence[Any],
    shots: int,
    *,
    sample_indices: Sequence[int],
    estimate: Estimate,
    approve_usd,
    max_budget_usd,
    ledger_path: Path,
    run_key: str,
    model_version: str,
    s3_bucket: str,
    s3_prefix: str,
    one_task_per_inference: bool = False,
    braket_client=None,
    s3_client=None,
    poll_timeout_s: float = 300,
    poll_interval_s: float = 5,
    resubmit_failed: bool = False,
    approve_resubmit_usd=None,
    profile=None,
) -> QpuResult:
    """Run ``circuits`` (one per sample) on ``device`` as the approved ``estimate`` says.

    Safe to call again with the same arguments after a crash, a timeout or a
    failure: created tasks are reconnected, never re-created (see
    :mod:`qml_ops.hardware.qpu` for the protocol).

    Args:
        device: an ONLINE QPU of the catalogue (prices as estimated).
        circuits: compiled circuits (:class:`~qml_ops.hardware.compile.CompiledCircuit`),
            verbatim, measuring their ``readout_qubit``.
        shots: shots per sample.
        sample_indices: dataset index of each circuit (unique; kept in the ledger).
        estimate: the estimate that was shown and approved (device, samples,
            shots and program-set choice must match the run).
        approve_usd: the user's approval (USD) of ``estimate.cost_usd``.
        max_budget_usd: the configured hardware budget (USD).
        ledger_path: the ledger file (``qml_ops.hardware.ledger.default_ledger_path()``).
        run_key: identifies the run across re-runs (a task tag; same key = resume).
        model_version: recorded in the ledger and as a tag.
        s3_bucket, s3_prefix: where Braket writes results (the bucket must be in
            the device's region and, for Braket, named ``amazon-braket-...``).
        one_task_per_inference: must equal what the estimate was made with.
        braket_client, s3_client: injected boto3 clients (tests); default: from
            ``boto3.Session(region_name=<device region>)``.
        poll_timeout_s, poll_interval_s: how long to wait for tasks in this call;
            on timeout the result is ``pending`` (tasks keep running; call again).
        resubmit_failed: create failed or cancelled tasks again (a new attempt
            with a new client token). Needs ``approve_resubmit_usd`` >= their
            extra cost, and that extra within ``max_budget_usd`` minus the cost
            of every task already created. Default: never resubmit.
        approve_resubmit_usd: the new approval for resubmission (USD).
        profile: the calibration profile whose emulator validates the circuits
            (default: the device's profile file).

    Returns:
        :class:`~qml_ops.hardware.qpu.results.QpuResult`.

    Raises:
        BudgetError: the spend gate denied the estimate or a resubmission.
        HardwareError: the device is not ONLINE or outside its execution window,
            a circuit fails validation, no credentials, the plan does not match
            the estimate, the ledger holds other work under ``run_key``, or AWS
            refused a call (after bounded retries).
    """
    started = clock.monotonic()
    preflight.check_inputs(device, circuits, shots, sample_indices, run_key, model_version)
    check_estimate_is_this_run(device, len(circuits), shots, estimate, one_task_per_inference)
    plan = plan_tasks(device, circuits, shots, sample_indices, estimate)
    ledger = Ledger(ledger_path)
    with ledger.submission_lock():
        existing = ledger.rows(run_key=run_key, device=device.id)
        if any(r.task_index >= len(plan) for r in existing):
            raise HardwareError(
                f"run {run_key!r} on {device.id} has more tasks in {ledger.path} than this run "
                "plans; use a new run_key for a new run (nothing was submitted)"
            )
        latest = latest_attempts(existing)
        for index, row in latest.items():
            check_row_matches(row, plan[index])
        to_create = [t for t in plan if t.index not in latest or not latest[t.index].is_created]
        resubmit = [t for t in plan if t.index in latest and latest[t.index].state in FAILED_STATES]
        if resubmit and not resubmit_failed:
            log.warning("%d task(s) of run %s failed or were cancelled; not resubmitted "
                        "(pass resubmit_failed=True with a new approval to pay for them again)",
                        len(resubmit), run_key)
            resubmit = []
        braket = s3 = None
        if to_create or resubmit:
            # ---- pre-flight, before anything can be spent
            preflight.validate_circuits(circuits, device, profile)
            if to_create:
                check_spend(QPU_MODE, estimate.cost_usd, max_budget_usd, approve_usd).raise_if_denied()
            if resubmit:
                _check_resubmission(existing, to_create, resubmit, max_budget_usd, approve_resubmit_usd)
            braket, s3 = aws.braket_clients(device.region, braket_client, s3_client)
            preflight.check_device(braket, device, shots, estimate.program_sets)
            # ---- reconcile rows written before an interrupted create
            orphans = [latest[t.index] for t in to_create if t.index in latest]
            if orphans:
                latest.update(reconcile(braket, ledger, orphans, device, run_key))
            # ---- create (ledger row first, then the task)
            creates = [(t, latest.get(t.index)) for t in to_create]
            creates += [(t, None) for t in resubmit]
            for task, row in creates:
                if row is not None and row.is_created:
                    continue  # found by reconciliation
                if row is None:
                    attempt = latest[task.index].attempt + 1 if task.index in latest else 0
                    row = ledger.upsert(new_row(task, device=device, run_key=run_key,
                                                model_version=model_version, attempt=attempt,
                                                s3_bucket=s3_bucket, s3_prefix=s3_prefix))
                latest[task.index] = _create_and_record(braket, ledger, row, task)
        elif any(r.awaiting_results for r in latest.values()):
            braket, s3 = aws.braket_clients(device.region, braket_client, s3_client)
        # ---- poll and read results
        by_index = {t.index: t for t in plan}
        deadline = started + float(poll_timeout_s)
        while True:
            for index, row in list(latest.items()):
                if row.awaiting_results:
                    latest[index] = _poll(braket, s3, ledger, row, by_index[index])
            if not any(r.awaiting_results for r in latest.values()) or clock.monotonic() >= deadline:
                break
            clock.sleep(poll_interval_s)
        return assemble_result(plan, latest, ledger.rows(run_key=run_key, device=device.id), estimate,
                               sample_indices, clock.monotonic() - started)


def _check_resubmission(existing: list[TaskRow], to_create: list[PlannedTask],
                        resubmit: list[PlannedTask], max_budget_usd, approve_resubmit_usd) -> None:
    """The gate for paying again for failed tasks: its own approval, and room in the
    budget after everything created so far plus what is about to be created."""
    committed = spend(existing) + sum((t.cost_usd for t in to_create), Decimal(0))
    extra = sum((t.cost_usd for t in resubmit), Decimal(0))
    budget = parse_usd(max_budget_usd)
    remaining = None if budget is None else budget - committed  # None: the gate reports it
    decision = check_spend(QPU_MODE, to_cents(extra), remaining, approve_resubmit_usd)
    if not decision.allowed:
        raise BudgetError(
            f"resubmitting {len(resubmit)} failed task(s) for ${to_cents(extra)} is not "
            f"allowed: it needs its own approval (approve_resubmit_usd="
            f"{approve_resubmit_usd!r}) and room in the budget after the "
            f"${to_cents(committed)} already committed: {decision.reason}"
        )


def _create(braket, row: TaskRow, task: PlannedTask) -> str:
    """``CreateQuantumTask`` with the row's client token; transient errors are
    retried with the same token only. Returns the task ARN."""
    kwargs = {
        "clientToken": row.client_token, "deviceArn": row.device_arn,
        "shots": task.shots_total, "outputS3Bucket": row.s3_bucket,
        "outputS3KeyPrefix": row.s3_prefix, "action": task.action, "tags": dict(row.tags),
    }
    if task.device_parameters is not None:
        kwargs["deviceParameters"] = task.device_parameters
    response = aws.retrying(braket.create_quantum_task, f"CreateQuantumTask {task.index}",
                            aws.CREATE_ATTEMPTS, **kwargs)
    return response["quantumTaskArn"]


def _create_and_record(braket, ledger: Ledger, row: TaskRow, task: PlannedTask) -> TaskRow:
    from botocore.exceptions import BotoCoreError, ClientError

    log.info("creating task %d of run %s on %s: %d sample(s), %d shots, $%s",
             task.index, row.run_key, row.device, len(task.positions), task.shots_total,
             task.cost_usd)
    try:
        arn = _create(braket, row, task)
    except ClientError as exc:
        definitive = not aws.is_transient(exc)
        if definitive:  # the service refused it: nothing was created
            ledger.update(row, state=REJECTED, failure_reason=aws.describe_error(exc))
        raise HardwareError(
            f"CreateQuantumTask for task {task.index} of run {row.run_key!r} failed: "
            f"{aws.describe_error(exc)}; "
            + ("nothing was created" if definitive else
               "it may or may not exist: run again to reconcile (same client token, no double spend)")
        ) from None
    except BotoCoreError as exc:
        raise HardwareError(
            f"CreateQuantumTask for task {task.index} of run {row.run_key!r} failed "
            f"({type(exc).__name__}); it may or may not exist: run again to reconcile"
        ) from None
    return ledger.update(row, arn=arn, state="CREATED", failure_reason=None)


def _seconds(a, b) -> float | None:
    from datetime import datetime

    if isinstance(a, datetime) and isinstance(b, datetime):
        return round((b - a).total_seconds(), 3)
    return None


def _poll(braket, s3, ledger: Ledger, row: TaskRow, task: PlannedTask) -> TaskRow:
    """One ``GetQuantumTask``; on COMPLETED read the results into the row. Returns the stored row."""
    meta = aws.read(braket.get_quantum_task, f"GetQuantumTask {row.arn}",
                    quantumTaskArn=row.arn, additionalAttributeNames=["QueueInfo"])
    update: dict[str, Any] = {
        "state": meta["status"], "failure_reason": meta.get("failureReason"),
        "output_s3_bucket": meta.get("outputS3Bucket"),
        "output_s3_directory": meta.get("outputS3Directory"),
        "total_s": _seconds(meta.get("createdAt"), meta.get("endedAt")),
    }
    queue = meta.get("queueInfo") or {}
    if queue.get("position"):
        update["queue_position"] = queue["position"]
    if meta["status"] == "COMPLETED" and row.counts is None:
        try:
            counts, execution_s = read_task_results(
                s3, meta["outputS3Bucket"], meta["outputS3Directory"], task)
        except HardwareError as exc:
            log.warning("task %d completed but its results cannot be read yet: %s", row.task_index, exc)
        else:
            update["counts"] = tuple(counts)
            update["execution_s"] = execution_s
            if execution_s is not None and update["total_s"] is not None:
                update["queue_s"] = round(max(update["total_s"] - execution_s, 0.0), 3)
    if meta["status"] in FAILED_STATES:
        log.warning("task %d (%s) is %s: %s", row.task_index, row.arn, meta["status"],
                    meta.get("failureReason") or "no reason given")
    return ledger.update(row, **update)
