"""Submit and resume: :func:`run_on_qpu`, the only way qml-ops creates QPU tasks.

The order of a run (see :mod:`qml_ops.hardware.qpu` for the whole protocol):
check the estimate is this run's and plan exactly its tasks; under the
ledger's submission lock, match the ledger's rows to the plan. Only if some
task still has to be created, the creation gate runs (circuit validation, the
spend gate, the run's recorded approval, the total budget of the period,
credentials, the live device, AWS spending limits). Whatever the gate says,
rows left by an interrupted create are reconciled and the tasks that exist are
polled and collected: a refusal stops new creates only, and is raised once what
exists has been polled. Each create writes its ledger row *before*
``CreateQuantumTask`` (the first row of a run also marks its approval used, in
the same write), re-checks the total budget, and records the ARN right after.
Polling reads each task's state, ``numSuccessfulShots`` (what it is billed:
:mod:`qml_ops.hardware.billing`) and timings, and completed tasks' results.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from qml_ops.cost import Estimate
from qml_ops.errors import BudgetError, HardwareError
from qml_ops.hardware import billing
from qml_ops.hardware.approvals import approval_for_run
from qml_ops.hardware.devices import Device
from qml_ops.hardware.gate import QPU_MODE, check_spend, check_total_budget
from qml_ops.hardware.ledger import (
    CREATING, FAILED_STATES, REJECTED, Ledger, TaskRow, latest_attempts,
)
from qml_ops.hardware.qpu import aws, clock, preflight, spending_limits
from qml_ops.hardware.qpu.planning import PlannedTask, check_estimate_is_this_run, plan_digest, plan_tasks
from qml_ops.hardware.qpu.recovery import reconcile
from qml_ops.hardware.qpu.results import QpuResult, assemble_result, read_task_results
from qml_ops.hardware.qpu.rows import check_row_matches, new_row
from qml_ops.money import parse_usd, to_cents, usd

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
    total_budget_usd=None,
    budget_period: str = "month",
    refuse_outside_window: bool = False,
    enforce_spending_limit: bool = False,
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
        approve_usd: ``hardware.approve_usd``: the most one run may be approved for
            (a ceiling; it approves nothing by itself).
        max_budget_usd: ``hardware.max_budget_usd``: the most one run may cost.
        ledger_path: the ledger file (``qml_ops.hardware.ledger.default_ledger_path()``);
            it also holds the recorded approvals (:mod:`qml_ops.hardware.approvals`):
            the first task of a run is created only under one that matches the run.
        run_key: identifies the run across re-runs (a task tag; same key = resume,
            free of a new approval).
        model_version: recorded in the ledger and as a tag.
        s3_bucket, s3_prefix: where Braket writes results (the bucket must be in
            the device's region and named ``amazon-braket-...``).
        total_budget_usd: ``hardware.total_budget_usd``: the most all runs of the
            ledger may be billed in the budget period (``None``: nothing may be
            created). Checked before the run and before every create.
        budget_period: ``month``, ``year`` or ``all`` (calendar, UTC).
        refuse_outside_window: refuse to create outside the device's execution
            windows (default: warn with the next window; Braket queues the tasks).
        enforce_spending_limit: create or lower the device's AWS spending limit to
            what this call is approved to create (never raise one).
        one_task_per_inference: must equal what the estimate was made with.
        braket_client, s3_client: injected boto3 clients (tests); default: from
            ``boto3.Session(region_name=<device region>)``.
        poll_timeout_s, poll_interval_s: how long to wait for tasks in this call;
            on timeout the result is ``pending`` (tasks keep running; call again).
        resubmit_failed: create failed or cancelled tasks again (a new attempt
            with a new client token). Needs ``approve_resubmit_usd`` >= their
            extra cost, and that extra within ``max_budget_usd`` minus what the run
            has spent (billed, or committed while not final) and is about to
            create. Default: never resubmit.
        approve_resubmit_usd: the new approval for resubmission (USD).
        profile: the calibration profile whose emulator validates the circuits
            (default: the device's profile file).

    Returns:
        :class:`~qml_ops.hardware.qpu.results.QpuResult`.

    Raises:
        BudgetError: the spend gate, the approval, the total budget or a
            resubmission's approval denied new creates (tasks that already
            existed were polled first).
        HardwareError: the device is not ONLINE (or outside its windows with
            ``refuse_outside_window``), a circuit fails validation, no
            credentials, an AWS spending limit would reject the run, the plan
            does not match the estimate, the ledger holds other work under
            ``run_key``, or AWS refused a call (after bounded retries).
    """
    started = clock.monotonic()
    preflight.check_inputs(device, circuits, shots, sample_indices, run_key, model_version)
    check_estimate_is_this_run(device, len(circuits), shots, estimate, one_task_per_inference)
    plan = plan_tasks(device, circuits, shots, sample_indices, estimate)
    ledger = Ledger(ledger_path)
    notes: list[str] = []
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
        approval_id = next((r.approval_id for r in existing if r.approval_id), None)
        approval_to_mark: str | None = None
        blocked: HardwareError | None = None
        if to_create or resubmit:
            try:
                approval, braket, s3 = _creation_gate(
                    device, circuits, shots, plan, estimate, ledger, existing, latest, to_create, resubmit,
                    approve_usd=approve_usd, max_budget_usd=max_budget_usd, total_budget_usd=total_budget_usd,
                    budget_period=budget_period, refuse_outside_window=refuse_outside_window,
                    enforce_spending_limit=enforce_spending_limit, approve_resubmit_usd=approve_resubmit_usd,
                    run_key=run_key, model_version=model_version, braket_client=braket_client,
                    s3_client=s3_client, profile=profile, notes=notes)
                if approval is not None:
                    approval_id = approval_to_mark = approval.id
            except HardwareError as exc:  # BudgetError included
                if not any(r.is_created or r.state == CREATING for r in latest.values()):
                    raise  # nothing exists: nothing to collect
                blocked = exc
                log.warning("not creating tasks of run %s on %s: %s; collecting the tasks that exist",
                            run_key, device.id, exc)
        if braket is None and any(r.awaiting_results or r.state == CREATING for r in latest.values()):
            braket, s3 = aws.braket_clients(device.region, braket_client, s3_client)
        # ---- reconcile rows written before an interrupted create (always)
        orphans = [r for r in latest.values() if not r.is_created and r.state == CREATING]
        if orphans:
            latest.update(reconcile(braket, ledger, orphans, device, run_key))
        # ---- create (ledger row first, then the task)
        if blocked is None and (to_create or resubmit):
            creates = [(t, latest.get(t.index)) for t in to_create]
            creates += [(t, None) for t in resubmit]
            try:
                for task, row in creates:
                    if row is not None and row.is_created:
                        continue  # found by reconciliation
                    _check_total_before_create(ledger, task, row, total_budget_usd, budget_period)
                    if row is None:
                        attempt = latest[task.index].attempt + 1 if task.index in latest else 0
                        mark = (approval_to_mark, run_key) if approval_to_mark else None
                        row = ledger.upsert(new_row(task, device=device, run_key=run_key,
                                                    model_version=model_version, attempt=attempt,
                                                    s3_bucket=s3_bucket, s3_prefix=s3_prefix,
                                                    approval_id=approval_id), use_approval=mark)
                        approval_to_mark = None
                    latest[task.index] = _create_and_record(braket, ledger, row, task)
            except HardwareError as exc:
                if not any(r.is_created for r in latest.values()):
                    raise
                blocked = exc
        # ---- poll and read results (one pass only when creating was refused)
        by_index = {t.index: t for t in plan}
        deadline = started + (0.0 if blocked is not None else float(poll_timeout_s))
        while True:
            for index, row in list(latest.items()):
                if row.awaiting_results:
                    latest[index] = _poll(braket, s3, ledger, row, by_index[index])
            if not any(r.awaiting_results for r in latest.values()) or clock.monotonic() >= deadline:
                break
            clock.sleep(poll_interval_s)
        result = assemble_result(plan, latest, ledger.rows(run_key=run_key, device=device.id), estimate,
                                 sample_indices, clock.monotonic() - started, notes)
    if blocked is not None:
        raise type(blocked)(f"{blocked} (the {sum(r.is_created for r in latest.values())} task(s) of run "
                            f"{run_key} that exist were polled; their state is in {ledger.path})") from None
    return result


def _creation_gate(device: Device, circuits, shots: int, plan: list[PlannedTask], estimate: Estimate,
                   ledger: Ledger, existing: list[TaskRow], latest: dict[int, TaskRow],
                   to_create: list[PlannedTask], resubmit: list[PlannedTask], *, approve_usd, max_budget_usd,
                   total_budget_usd, budget_period: str, refuse_outside_window: bool, enforce_spending_limit: bool,
                   approve_resubmit_usd, run_key: str, model_version: str, braket_client, s3_client, profile,
                   notes: list[str]):
    """Everything that must hold before a new create, offline checks first.

    Returns ``(approval or None, braket client, s3 client)``.
    """
    preflight.validate_circuits(circuits, device, profile)
    approval = None
    if to_create:
        check_spend(QPU_MODE, estimate.cost_usd, max_budget_usd, approve_usd).raise_if_denied()
        approval = approval_for_run(ledger, existing, device_id=device.id, run_key=run_key,
                                    model_version=model_version, n_samples=len(circuits), shots=shots,
                                    tasks=len(plan), estimate_usd=estimate.cost_usd, digest=plan_digest(plan))
    if resubmit:
        _check_resubmission(existing, to_create, resubmit, max_budget_usd, approve_resubmit_usd)
    now = clock.utcnow()
    unconfirmed = {t.index for t in to_create if t.index in latest and latest[t.index].state == CREATING}
    needed = sum((t.cost_usd for t in to_create if t.index not in unconfirmed), Decimal(0))
    needed += sum((t.cost_usd for t in resubmit), Decimal(0))
    period_rows = billing.in_period(ledger.rows(), budget_period, now)
    decision = check_total_budget(needed, billing.exposure(period_rows), total_budget_usd,
                                  billing.describe_period(budget_period, now))
    if not decision.allowed:
        raise BudgetError(f"hardware spend not allowed: {decision.reason}; nothing was submitted")
    braket, s3 = aws.braket_clients(device.region, braket_client, s3_client)
    check = preflight.check_device(braket, device, shots, estimate.program_sets, circuits=circuits,
                                   sizes=preflight.task_sizes(plan), refuse_outside_window=refuse_outside_window)
    notes.extend(check.notes)
    amount = sum((t.cost_usd for t in [*to_create, *resubmit]), Decimal(0))
    notes.append(_spending_limits(braket, device, amount, enforce_spending_limit, budget_period, now, run_key))
    log.info("%s: creating up to %s for run %s (estimate %s); %s", device.id, usd(amount), run_key,
             usd(estimate.cost_usd), notes[-1])
    return approval, braket, s3


def _spending_limits(braket, device: Device, amount: Decimal, enforce: bool, period: str, now: datetime,
                     run_key: str) -> str:
    """Read (and with ``enforce``, set) the device's AWS spending limit; returns what to show."""
    if enforce:
        outcome = spending_limits.enforce_spending_limit(braket, device, amount,
                                                         billing.period_window(period, now), now, run_key)
        return outcome.text()
    try:
        limits = spending_limits.read_spending_limits(braket, device)
    except HardwareError as exc:
        log.warning("%s: cannot read AWS spending limits (%s); going on without (hardware.enforce_spending_limit "
                    "is false)", device.id, exc)
        return f"AWS spending limits not readable: {exc}"
    spending_limits.check_limits(limits, device, amount, now)
    return f"AWS spending limit: {spending_limits.describe(limits, now)}"


def _check_total_before_create(ledger: Ledger, task: PlannedTask, row: TaskRow | None, total_budget_usd,
                               period: str) -> None:
    """The total budget, once more, right before one create (the ledger as it is now)."""
    now = clock.utcnow()
    others = [r for r in billing.in_period(ledger.rows(), period, now) if row is None or r.key != row.key]
    decision = check_total_budget(task.cost_usd, billing.exposure(others), total_budget_usd,
                                  billing.describe_period(period, now))
    if not decision.allowed:
        raise BudgetError(f"hardware spend not allowed before task {task.index}: {decision.reason}")


def _check_resubmission(existing: list[TaskRow], to_create: list[PlannedTask],
                        resubmit: list[PlannedTask], max_budget_usd, approve_resubmit_usd) -> None:
    """The gate for paying again for failed tasks: its own approval, and room in the
    budget after what the run has spent (billed: failed and cancelled tasks cost
    nothing) plus what is about to be created."""
    committed = billing.exposure(existing) + sum((t.cost_usd for t in to_create), Decimal(0))
    extra = sum((t.cost_usd for t in resubmit), Decimal(0))
    budget = parse_usd(max_budget_usd)
    remaining = None if budget is None else budget - committed  # None: the gate reports it
    decision = check_spend(QPU_MODE, to_cents(extra), remaining, approve_resubmit_usd)
    if not decision.allowed:
        raise BudgetError(
            f"resubmitting {len(resubmit)} failed task(s) for ${to_cents(extra)} is not "
            f"allowed: it needs its own approval (approve_resubmit_usd="
            f"{approve_resubmit_usd!r}) and room in the budget after the "
            f"${to_cents(committed)} already spent or committed: {decision.reason}"
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


def program_set_failures(exc: BaseException, task: PlannedTask) -> str | None:
    """A rejected program set's ``programSetValidationFailures``, by executable:
    ``program 2 (sample 102): <errors>``; ``None`` if the error carries none."""
    response = getattr(exc, "response", None) or {}
    failures = response.get("programSetValidationFailures") or []
    if not failures:
        return None
    parts = []
    for f in failures:
        index = int(f.get("programIndex", -1))
        sample = task.sample_indices[index] if 0 <= index < len(task.sample_indices) else "?"
        inputs = f" inputs {f['inputsIndex']}" if f.get("inputsIndex") is not None else ""
        parts.append(f"program {index} (sample {sample}{inputs}): {'; '.join(f.get('errors') or ['no reason given'])}")
    return "program set rejected: " + " | ".join(parts)


def _create_and_record(braket, ledger: Ledger, row: TaskRow, task: PlannedTask) -> TaskRow:
    from botocore.exceptions import BotoCoreError, ClientError

    log.info("creating task %d of run %s on %s: %d sample(s), %d shots, $%s",
             task.index, row.run_key, row.device, len(task.positions), task.shots_total,
             task.cost_usd)
    try:
        arn = _create(braket, row, task)
    except ClientError as exc:
        definitive = not aws.is_transient(exc)
        reason = program_set_failures(exc, task) or aws.describe_error(exc)
        if definitive:  # the service refused it: nothing was created
            ledger.update(row, state=REJECTED, failure_reason=reason)
        raise HardwareError(
            f"CreateQuantumTask for task {task.index} of run {row.run_key!r} failed: "
            f"{aws.describe_error(exc)}"
            + (f"; {reason}" if reason != aws.describe_error(exc) else "") + "; "
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
    if isinstance(a, datetime) and isinstance(b, datetime):
        return round((b - a).total_seconds(), 3)
    return None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text)


def _poll(braket, s3, ledger: Ledger, row: TaskRow, task: PlannedTask) -> TaskRow:
    """One ``GetQuantumTask``: state, shots that succeeded, what it is billed, timings;
    on COMPLETED read the results into the row. Returns the stored row."""
    meta = aws.read(braket.get_quantum_task, f"GetQuantumTask {row.arn}",
                    quantumTaskArn=row.arn, additionalAttributeNames=["QueueInfo"])
    status = meta["status"]
    created, ended = meta.get("createdAt"), meta.get("endedAt")
    update: dict[str, Any] = {
        "state": status, "failure_reason": meta.get("failureReason"),
        "output_s3_bucket": meta.get("outputS3Bucket"),
        "output_s3_directory": meta.get("outputS3Directory"),
        "total_s": _seconds(created, ended),
    }
    if status == "RUNNING" and row.running_at is None:
        update["running_at"] = clock.utcnow().replace(microsecond=0).isoformat()
    running_at = _parse_time(update.get("running_at") or row.running_at)
    queue = meta.get("queueInfo") or {}
    if queue.get("position"):
        update["queue_position"] = queue["position"]
    if meta.get("numSuccessfulShots") is not None:
        update["num_successful_shots"] = int(meta["numSuccessfulShots"])
    execution_s = None
    if status == "COMPLETED" and row.counts is None:
        try:
            counts, execution_s = read_task_results(
                s3, meta["outputS3Bucket"], meta["outputS3Directory"], task)
        except HardwareError as exc:
            log.warning("task %d completed but its results cannot be read yet: %s", row.task_index, exc)
        else:
            update["counts"] = tuple(counts)
    if execution_s is None and running_at is not None and isinstance(ended, datetime):
        execution_s = max(_seconds(running_at, ended), 0.0)  # observed: first seen RUNNING -> endedAt
    if execution_s is not None:
        update["execution_s"] = round(execution_s, 3)
    total_s = update["total_s"]
    if total_s is not None and execution_s is not None:
        update["queue_s"] = round(max(total_s - execution_s, 0.0), 3)
    elif running_at is not None and isinstance(created, datetime):
        update["queue_s"] = max(_seconds(created, running_at), 0.0)
    billed = billing.billed_usd(status, update.get("num_successful_shots", row.num_successful_shots),
                                row.shots_total, row.price_per_task_usd, row.price_per_shot_usd, row.cost_usd)
    if billed is not None:
        update["spent_usd"] = billed
    if status in FAILED_STATES:
        log.warning("task %d (%s) is %s: %s", row.task_index, row.arn, status,
                    meta.get("failureReason") or "no reason given")
    return ledger.update(row, **update)
