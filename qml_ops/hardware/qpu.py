"""Run compiled circuits on a real Braket QPU: estimated, approved, ledgered, resumable.

:func:`run_on_qpu` is the only way qml-ops creates QPU tasks. In order:

1. **Plan** the tasks exactly as the cost estimate did (program sets of up to
   ``estimate.executables_per_task`` samples where the device supports them,
   else one task per sample) and refuse unless the plan has ``estimate.tasks``
   tasks and the estimate is for this device, sample count and shots.
2. **Pre-flight** (only when some task still has to be created): shots within
   the device's range, every circuit passes the device emulator's validation,
   the spend gate (``check_spend("qpu", estimate, max_budget_usd, approve_usd)``),
   AWS credentials (standard chain, region from the device ARN), and a live
   ``GetDevice``: status ``ONLINE``, inside an execution window, program sets
   and shots accepted; the queue depth is logged.
3. **Ledger first**: each task's row (run key, sample indices, program hash,
   deterministic ``clientToken``, tags ``qml-ops-run``/``qml-ops-task``/
   ``qml-ops-token``) is written *before* ``create_quantum_task`` and updated with
   the ARN right after it returns. Creates go through the raw Braket client with
   that ``clientToken`` (never ``AwsDevice.run_batch``, whose retries create new
   tasks); a transient error is retried with the same token only.
4. **Resume**: rows with an ARN are reconnected (``GetQuantumTask``), never
   re-created; rows without one (a crash between ledger write and create) are
   reconciled first with ``SearchQuantumTasks`` on the run tag and matched by
   the client-token tag; only a task that is not found is created, with the
   same token (Braket's idempotency protects even a search that lags).
5. **Poll** until every task is terminal or ``poll_timeout_s`` passes (then the
   result is ``pending``, nothing is failed or cancelled). Completed tasks'
   ``results.json`` is read from S3 (gate-model or program-set format, inline
   or with relative paths) and turned into per-sample counts of the readout
   qubit, stored in the ledger so a later run does not read them again.

Failed or cancelled tasks are recorded with Braket's ``failureReason`` and
**never resubmitted automatically**. To pay for them again the caller passes
``resubmit_failed=True`` *and* a new approval ``approve_resubmit_usd`` covering
the extra cost; the gate then checks that extra cost against what is left of
``max_budget_usd`` after everything already created. A resubmission is a new
attempt with a new client token (the old one would return the failed task).

Example:
    >>> result = run_on_qpu(                                     # doctest: +SKIP
    ...     get_device("iqm-garnet"), compiled, 512, sample_indices=list(range(48)),
    ...     estimate=estimate(get_device("iqm-garnet"), 48, 512), approve_usd=60,
    ...     max_budget_usd=100, ledger_path=default_ledger_path(), run_key="val-2026-05-06",
    ...     model_version="qcnn/3", s3_bucket="amazon-braket-my-bucket", s3_prefix="qml-ops")
    >>> result.pending, result.cost_usd, result.counts.shape     # doctest: +SKIP
    (False, Decimal('36.42'), (48, 2))
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from qml_ops.cost import Estimate, check_shots, to_cents
from qml_ops.cost import estimate as estimate_cost
from qml_ops.errors import BudgetError, ConfigError, HardwareError
from qml_ops.hardware.devices import ONLINE, Device
from qml_ops.hardware.gate import QPU_MODE, check_spend
from qml_ops.hardware.ledger import (
    CREATING, FAILED_STATES, REJECTED, TAG_MODEL, TAG_RUN, TAG_TASK, TAG_TOKEN,
    TERMINAL_STATES, Ledger, client_token, is_created, latest_attempts, row_cost, sha256, utc_now,
)

__all__ = ["QpuResult", "PlannedTask", "plan_tasks", "run_on_qpu", "execution_window_status",
           "braket_clients"]

log = logging.getLogger(__name__)

#: Indirections the tests replace (no real sleeping, a fixed clock).
_sleep: Callable[[float], None] = time.sleep
_monotonic: Callable[[], float] = time.monotonic
_utcnow: Callable[[], datetime] = lambda: datetime.now(tz=timezone.utc)  # noqa: E731

READ_ATTEMPTS, CREATE_ATTEMPTS = 6, 4
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.5, 16.0
RESULTS_FILENAME = "results.json"
PROGRAM_SET_ACTION = "braket.ir.openqasm.program_set"
_TAG_VALUE = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,128}$")
_TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "InternalServiceException", "InternalServerException", "InternalError",
    "ServiceUnavailableException", "ServiceUnavailable", "RequestTimeout",
    "RequestTimeoutException", "SlowDown", "PriorRequestNotComplete",
})


# --------------------------------------------------------------------- results


@dataclass
class QpuResult:
    """What :func:`run_on_qpu` returns.

    Attributes:
        counts: ``(n_samples, 2)`` float array of counts of reading 0 and 1 on the
            readout qubit, rows in the order of the circuits; ``NaN`` rows for
            samples whose task is pending, failed or cancelled.
        tasks: the ledger rows of this run on this device (latest attempts last).
        cost_usd: price-table cost of every task *created* so far (all attempts),
            exact (not rounded).
        pending: True while some task is not terminal or its results are unread.
        latency: ``{"tasks": [{task_index, queue_s, execution_s, total_s}], "wall_s",
            "per_inference_s"}``; ``total_s`` is endedAt - createdAt of the task,
            ``execution_s`` the device's execution duration where the result
            reports one, ``queue_s`` their difference; ``per_inference_s`` the
            mean task turnaround per completed sample.
        sample_indices: the dataset index of each row of ``counts``.
        failed_samples: sample indices whose task failed or was cancelled.
    """

    counts: np.ndarray
    tasks: list[dict]
    cost_usd: Decimal
    pending: bool
    latency: dict
    sample_indices: list[int] = field(default_factory=list)
    failed_samples: list[int] = field(default_factory=list)

    @property
    def done(self) -> np.ndarray:
        """Boolean mask of samples with counts."""
        return ~np.isnan(self.counts[:, 0])


@dataclass(frozen=True)
class PlannedTask:
    """One task as it will be sent: ``action`` is the exact OpenQASM JSON."""

    index: int
    positions: tuple[int, ...]  # rows of ``circuits`` in this task
    sample_indices: tuple[int, ...]
    readout_qubits: tuple[int, ...]
    action: str
    device_parameters: str | None
    shots: int  # per executable
    shots_total: int
    program_set: bool
    program_hash: str
    cost_usd: Decimal


# ------------------------------------------------------------------ planning


def _device_parameters(device_arn: str, circuit) -> str:
    """The deviceParameters JSON ``AwsQuantumTask.create`` sends for a circuit."""
    from braket.aws.aws_quantum_task import _circuit_device_params_from_dict
    from braket.device_schema import GateModelParameters

    params = _circuit_device_params_from_dict(
        {}, device_arn, GateModelParameters(qubitCount=circuit.qubit_count, disableQubitRewiring=False)
    )
    return params.json(exclude_none=True)


def plan_tasks(device: Device, circuits: Sequence[Any], shots: int, sample_indices: Sequence[int],
               estimate: Estimate) -> list[PlannedTask]:
    """Split the circuits into tasks exactly as ``estimate`` priced them.

    Program sets (``estimate.program_sets``) hold ``estimate.executables_per_task``
    consecutive samples each; otherwise each sample is one task. The action is
    what the Braket SDK would serialise (``ProgramSet.to_ir().json()`` or
    ``Circuit.to_ir(OPENQASM).json()`` plus the SDK's device parameters).

    Raises:
        HardwareError: if the estimate is for another device, sample count or
            shots, or the plan does not have ``estimate.tasks`` tasks.
    """
    from braket.circuits.serialization import IRType
    from braket.program_sets import ProgramSet

    n = len(circuits)
    if estimate.device != device.id or estimate.n_samples != n or estimate.shots != shots:
        raise HardwareError(
            f"the estimate is for {estimate.device}, {estimate.n_samples} samples x "
            f"{estimate.shots} shots, but the run is {device.id}, {n} samples x {shots} shots; "
            "estimate (and approve) this run"
        )
    prices = (device.price_per_task_usd, device.price_per_shot_usd)
    if (estimate.per_task_usd, estimate.per_shot_usd) != prices:
        raise HardwareError(
            f"the estimate's prices (${estimate.per_task_usd}/task, ${estimate.per_shot_usd}/shot) "
            f"differ from device {device.id}'s (${device.price_per_task_usd}, ${device.price_per_shot_usd})"
        )
    if estimate.program_sets and not device.supports_program_sets:
        raise HardwareError(f"the estimate uses program sets, which {device.id} does not support")
    per_task = estimate.executables_per_task if estimate.program_sets else 1
    plan = []
    for index, start in enumerate(range(0, n, per_task)):
        positions = tuple(range(start, min(start + per_task, n)))
        chunk = [circuits[p] for p in positions]
        if estimate.program_sets:
            program_set = ProgramSet([c.circuit for c in chunk], shots_per_executable=shots)
            action, dev_params = program_set.to_ir().json(), None
            shots_total = program_set.total_shots
        else:
            circuit = chunk[0].circuit
            action = circuit.to_ir(IRType.OPENQASM).json()
            dev_params = _device_parameters(device.arn, circuit)
            shots_total = shots
        program_hash = sha256(action + "\n" + (dev_params or ""))
        cost = device.price_per_task_usd + shots_total * device.price_per_shot_usd
        plan.append(PlannedTask(
            index=index, positions=positions,
            sample_indices=tuple(int(sample_indices[p]) for p in positions),
            readout_qubits=tuple(int(c.readout_qubit) for c in chunk),
            action=action, device_parameters=dev_params, shots=shots, shots_total=shots_total,
            program_set=estimate.program_sets, program_hash=program_hash, cost_usd=cost,
        ))
    if len(plan) != estimate.tasks:  # the estimate is what was approved: never deviate
        raise HardwareError(
            f"refusing to submit: the plan has {len(plan)} tasks but the approved estimate "
            f"has {estimate.tasks}"
        )
    if to_cents(sum((t.cost_usd for t in plan), Decimal(0))) != estimate.cost_usd:
        raise HardwareError(
            f"refusing to submit: the plan costs ${to_cents(sum(t.cost_usd for t in plan))} "
            f"but the approved estimate is ${estimate.cost_usd}"
        )
    return plan


# ------------------------------------------------------------------ AWS calls


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def _is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import (
        ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _error_code(exc) in _TRANSIENT_CODES or int(status) >= 500
    return isinstance(exc, (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError,
                            ReadTimeoutError))


def _describe(exc: BaseException) -> str:
    """An AWS error as ``Code: message`` (never request parameters or credentials)."""
    code = _error_code(exc)
    if code is not None:
        return f"{code}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    return type(exc).__name__


def _retrying(fn: Callable, what: str, attempts: int, **kwargs):
    """Call ``fn(**kwargs)``, retrying throttling and transient errors with bounded
    exponential backoff (full jitter). Other errors propagate at once."""
    for attempt in range(attempts):
        try:
            return fn(**kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not _is_transient(exc):
                raise
            delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))
            log.info("%s: %s, retrying in %.1f s (%d/%d)", what, _describe(exc), delay,
                     attempt + 1, attempts - 1)
            _sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _read(fn: Callable, what: str, **kwargs):
    """A read (get/search), retried; failures become :class:`HardwareError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _retrying(fn, what, READ_ATTEMPTS, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise HardwareError(f"{what} failed: {_describe(exc)}") from None


def braket_clients(region: str, braket_client=None, s3_client=None):
    """Braket and S3 clients for ``region`` from the standard AWS credential chain.

    Injected clients are used as they are (their region must be ``region``).

    Raises:
        HardwareError: without credentials (the message never shows a key) or
            for an injected client of another region.
    """
    if braket_client is None or s3_client is None:
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.Session(region_name=region)
            credentials = session.get_credentials()
        except BotoCoreError as exc:
            raise HardwareError(f"cannot load AWS credentials ({type(exc).__name__})") from None
        if credentials is None:
            raise HardwareError(
                "no AWS credentials found: configure the standard chain (AWS_PROFILE, "
                "~/.aws/credentials, SSO or an instance role) and retry; nothing was submitted"
            )
        braket_client = braket_client or session.client("braket")
        s3_client = s3_client or session.client("s3")
    got = braket_client.meta.region_name
    if got != region:
        raise HardwareError(f"the Braket client is for region {got}, but the device is in {region}")
    return braket_client, s3_client


# ----------------------------------------------------------- execution windows

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _day_matches(execution_day: str, weekday: int) -> bool:
    day = str(execution_day).lower()
    return (day == "everyday" or (day == "weekdays" and weekday < 5)
            or (day in ("weekend", "weekends") and weekday > 4)
            or (day in [d.lower() for d in _DAYS] and [d.lower() for d in _DAYS].index(day) == weekday))


def _time(value: str) -> dtime:
    return dtime.fromisoformat(str(value))


def execution_window_status(windows: list[dict], now: datetime) -> tuple[bool, datetime | None]:
    """Whether ``now`` (UTC) is inside one of the device's execution windows, and
    when the next window opens (``None`` if inside or no window is declared).

    Same rule as ``AwsDevice.is_available``: a window whose end is before its
    start runs over midnight and belongs to the day it starts. No declared
    window counts as inside.
    """
    if not windows:
        return True, None
    now = now.astimezone(timezone.utc)
    current = now.time().replace(microsecond=0, tzinfo=None)
    for w in windows:
        start, end = _time(w["windowStartHour"]), _time(w["windowEndHour"])
        weekday = now.weekday()
        if current < end < start:
            weekday = (weekday - 1) % 7
        in_time = (start <= current <= end) if start < end else (current >= start or current <= end)
        if in_time and _day_matches(w["executionDay"], weekday):
            return True, None
    starts = []
    for offset in range(0, 8):
        day: date = now.date() + timedelta(days=offset)
        for w in windows:
            if _day_matches(w["executionDay"], day.weekday()):
                begin = datetime.combine(day, _time(w["windowStartHour"]), tzinfo=timezone.utc)
                if begin > now:
                    starts.append(begin)
    return False, min(starts) if starts else None


def _capabilities(response: dict) -> dict:
    caps = response.get("deviceCapabilities") or "{}"
    for _ in range(2):  # some snapshots are JSON-encoded twice
        if isinstance(caps, str):
            caps = json.loads(caps)
    return caps


def _preflight_device(braket, device: Device, shots: int, program_sets: bool) -> None:
    """Live checks before the first create: status, window, actions, shots, queue."""
    response = _read(braket.get_device, f"GetDevice {device.arn}", deviceArn=device.arn)
    status = response.get("deviceStatus")
    if status != ONLINE:
        reason = (response.get("deviceStatusReason") or {}).get("message") if isinstance(
            response.get("deviceStatusReason"), dict) else None
        raise HardwareError(
            f"device {device.id} ({device.arn}) is {status}{f' ({reason})' if reason else ''}, "
            "not ONLINE: nothing was submitted"
        )
    caps = _capabilities(response)
    service = caps.get("service", {})
    inside, next_start = execution_window_status(service.get("executionWindows") or [], _utcnow())
    if not inside:
        when = next_start.strftime("%A %Y-%m-%d %H:%M UTC") if next_start else "unknown"
        raise HardwareError(
            f"device {device.id} is outside its execution windows now "
            f"({_utcnow():%A %H:%M} UTC); the next window opens {when}. Nothing was submitted; "
            "run again inside a window"
        )
    if program_sets and PROGRAM_SET_ACTION not in (caps.get("action") or {}):
        raise HardwareError(f"device {device.id} does not accept program sets now; nothing was submitted")
    shots_range = service.get("shotsRange")
    if shots_range and not shots_range[0] <= shots <= shots_range[1]:
        raise HardwareError(
            f"shots={shots} is outside device {device.id}'s live range {shots_range[0]}–{shots_range[1]}"
        )
    queues = [f"{q.get('queue')}/{q.get('queuePriority')}={q.get('queueSize')}"
              for q in response.get("deviceQueueInfo") or []]
    log.info("device %s is ONLINE; queue depth: %s", device.id, ", ".join(queues) or "not reported")


# ------------------------------------------------------------------ results


def _count(measurements, probabilities, measured_qubits, readout: int, shots: int) -> list[int]:
    column = 0
    if measured_qubits:
        if readout not in measured_qubits:
            raise HardwareError(f"the result does not measure the readout qubit {readout}")
        column = list(measured_qubits).index(readout)
    if measurements:
        ones = sum(int(shot[column]) for shot in measurements)
        return [len(measurements) - ones, ones]
    if probabilities:
        p1 = sum(p for bits, p in probabilities.items() if bits[column] == "1")
        ones = int(round(p1 * shots))
        return [shots - ones, ones]
    raise HardwareError("the result has neither measurements nor measurement probabilities")


def _s3_text(s3, bucket: str, key: str) -> str:
    response = _read(s3.get_object, f"reading s3://{bucket}/{key}", Bucket=bucket, Key=key)
    return response["Body"].read().decode()


def _execution_s(additional_metadata) -> float | None:
    sim = getattr(additional_metadata, "simulatorMetadata", None)
    if sim is not None and getattr(sim, "executionDuration", None) is not None:
        return sim.executionDuration / 1000.0
    return None


def read_task_results(s3, bucket: str, directory: str, task: PlannedTask) -> tuple[list, float | None]:
    """Per-sample ``[n0, n1]`` (``None`` for a failed executable) of one completed
    task from ``s3://bucket/directory/results.json``, and its execution seconds.

    Reads both Braket result schemas: ``GateModelTaskResult`` (one circuit) and
    ``ProgramSetTaskResult`` (program results and executable results inline, or as
    paths relative to its ``s3Location``), with the injected S3 client.
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

    out = []
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


# ------------------------------------------------------------------ the run


def _check_inputs(device: Device, circuits, shots, sample_indices, run_key, model_version) -> None:
    if not device.is_qpu or not device.arn:
        raise HardwareError(f"device {device.id!r} is not a QPU; use the emulator or simulator")
    if device.status != ONLINE:
        raise HardwareError(
            f"device {device.id!r} is {device.status} in the catalogue; nothing was submitted"
        )
    if not circuits:
        raise ConfigError("run_on_qpu needs at least one circuit, but got 0")
    if len(sample_indices) != len(circuits):
        raise ConfigError(
            f"sample_indices has {len(sample_indices)} entries for {len(circuits)} circuits"
        )
    if len(set(sample_indices)) != len(sample_indices):
        raise ConfigError("sample_indices must be unique")
    for name, value in (("run_key", run_key), ("model_version", model_version)):
        if not isinstance(value, str) or not _TAG_VALUE.match(value):
            raise ConfigError(
                f"{name} must be 1-128 characters of letters, digits, spaces and _.:/=+@- "
                f"(it becomes a task tag), but got {name}={value!r}"
            )
    check_shots(device, shots)


def _validate_circuits(circuits, device: Device, profile) -> None:
    from qml_ops.hardware.profiles import build_local_emulator, load_profile

    profile = profile if profile is not None else load_profile(device.default_profile or device.id)
    emulator = build_local_emulator(profile)
    for i, c in enumerate(circuits):
        try:
            emulator.validate(c.circuit)
        except Exception as exc:
            raise HardwareError(
                f"circuit {i} does not pass {device.id}'s validation (verbatim, native gates, "
                f"connected physical qubits): {exc}; nothing was submitted"
            ) from None


def _new_row(task: PlannedTask, *, device: Device, run_key: str, model_version: str,
             attempt: int, s3_bucket: str, s3_prefix: str) -> dict:
    token = client_token(run_key, device.arn, task.index, task.program_hash, task.shots, attempt)
    return {
        "run_key": run_key, "model_version": model_version, "device": device.id,
        "device_arn": device.arn, "task_index": task.index, "attempt": attempt,
        "sample_indices": list(task.sample_indices), "shots": task.shots,
        "shots_total": task.shots_total, "n_executables": len(task.positions),
        "program_sets": task.program_set, "program_hash": task.program_hash,
        "client_token": token,
        "tags": {TAG_RUN: run_key, TAG_TASK: str(task.index), TAG_TOKEN: token,
                 TAG_MODEL: model_version},
        "state": CREATING, "arn": None, "cost_usd": str(task.cost_usd),
        "created_at": utc_now(), "failure_reason": None, "counts": None,
        "s3_bucket": s3_bucket, "s3_prefix": s3_prefix,
    }


def _check_row_matches(row: dict, task: PlannedTask) -> None:
    if (row["program_hash"] != task.program_hash or row["sample_indices"] != list(task.sample_indices)
            or int(row["shots"]) != task.shots):
        raise HardwareError(
            f"run {row['run_key']!r} on {row['device']} already has a task {task.index} for other "
            "circuits, samples or shots; use a new run_key for a new run (nothing was submitted)"
        )


def _create(braket, row: dict, task: PlannedTask) -> str:
    """``CreateQuantumTask`` with the row's client token; transient errors are
    retried with the same token only. Returns the task ARN."""
    kwargs = {
        "clientToken": row["client_token"], "deviceArn": row["device_arn"],
        "shots": task.shots_total, "outputS3Bucket": row["s3_bucket"],
        "outputS3KeyPrefix": row["s3_prefix"], "action": task.action, "tags": dict(row["tags"]),
    }
    if task.device_parameters is not None:
        kwargs["deviceParameters"] = task.device_parameters
    response = _retrying(braket.create_quantum_task, f"CreateQuantumTask {task.index}",
                         CREATE_ATTEMPTS, **kwargs)
    return response["quantumTaskArn"]


def _reconcile(braket, ledger: Ledger, rows: list[dict], device: Device, run_key: str) -> None:
    """Find tasks of rows without an ARN (crash between ledger write and create)."""
    found: dict[str, dict] = {}
    kwargs = {"filters": [
        {"name": "deviceArn", "operator": "EQUAL", "values": [device.arn]},
        {"name": f"tags:{TAG_RUN}", "operator": "EQUAL", "values": [run_key]},
    ]}
    while True:
        page = _read(braket.search_quantum_tasks, f"SearchQuantumTasks for run {run_key!r}", **kwargs)
        for summary in page.get("quantumTasks", []):
            token = (summary.get("tags") or {}).get(TAG_TOKEN)
            if token:
                found[token] = summary
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    for row in rows:
        summary = found.get(row["client_token"])
        if summary is not None:
            log.info("task %d of run %s was created before an interruption: %s",
                     row["task_index"], run_key, summary["quantumTaskArn"])
            row.update(ledger.upsert({**row, "arn": summary["quantumTaskArn"],
                                      "state": summary["status"]}))


def _seconds(a, b) -> float | None:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return round((b - a).total_seconds(), 3)
    return None


def _poll(braket, s3, ledger: Ledger, row: dict, task: PlannedTask) -> None:
    """One ``GetQuantumTask``; on COMPLETED read the results into the row."""
    meta = _read(braket.get_quantum_task, f"GetQuantumTask {row['arn']}",
                 quantumTaskArn=row["arn"], additionalAttributeNames=["QueueInfo"])
    update = {"state": meta["status"], "failure_reason": meta.get("failureReason"),
              "output_s3_bucket": meta.get("outputS3Bucket"),
              "output_s3_directory": meta.get("outputS3Directory"),
              "total_s": _seconds(meta.get("createdAt"), meta.get("endedAt"))}
    queue = meta.get("queueInfo") or {}
    if queue.get("position"):
        update["queue_position"] = queue["position"]
    if meta["status"] == "COMPLETED" and row.get("counts") is None:
        try:
            counts, execution_s = read_task_results(
                s3, meta["outputS3Bucket"], meta["outputS3Directory"], task)
        except HardwareError as exc:
            log.warning("task %d completed but its results cannot be read yet: %s", row["task_index"], exc)
        else:
            update["counts"] = counts
            update["execution_s"] = execution_s
            if execution_s is not None and update["total_s"] is not None:
                update["queue_s"] = round(max(update["total_s"] - execution_s, 0.0), 3)
    if meta["status"] in FAILED_STATES:
        log.warning("task %d (%s) is %s: %s", row["task_index"], row["arn"], meta["status"],
                    meta.get("failureReason") or "no reason given")
    row.update(ledger.upsert({**row, **update}))


def _needs_poll(row: dict) -> bool:
    return is_created(row) and (row["state"] not in TERMINAL_STATES
                                or (row["state"] == "COMPLETED" and row.get("counts") is None))


def run_on_qpu(
    device: Device,
    circuits: list,
    shots: int,
    *,
    sample_indices: list[int],
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
    failure: created tasks are reconnected, never re-created (see the module
    docstring for the protocol).

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
        :class:`QpuResult`.

    Raises:
        BudgetError: the spend gate denied the estimate or a resubmission.
        HardwareError: the device is not ONLINE or outside its execution window,
            a circuit fails validation, no credentials, the plan does not match
            the estimate, the ledger holds other work under ``run_key``, or AWS
            refused a call (after bounded retries).
    """
    started = _monotonic()
    _check_inputs(device, circuits, shots, sample_indices, run_key, model_version)
    expected = estimate_cost(device, len(circuits), shots, one_task_per_inference)
    if (expected.tasks, expected.program_sets, expected.executables_per_task, expected.cost_usd) != (
            estimate.tasks, estimate.program_sets, estimate.executables_per_task, estimate.cost_usd):
        raise HardwareError(
            f"the approved estimate ({estimate.tasks} tasks, ${estimate.cost_usd}) is not this run's "
            f"({expected.tasks} tasks, ${expected.cost_usd} with one_task_per_inference="
            f"{one_task_per_inference}); estimate and approve this run (nothing was submitted)"
        )
    plan = plan_tasks(device, circuits, shots, sample_indices, estimate)
    ledger = Ledger(ledger_path)
    with ledger.submission_lock():
        existing = ledger.rows(run_key=run_key, device=device.id)
        if any(int(r["task_index"]) >= len(plan) for r in existing):
            raise HardwareError(
                f"run {run_key!r} on {device.id} has more tasks in {ledger.path} than this run "
                "plans; use a new run_key for a new run (nothing was submitted)"
            )
        latest = latest_attempts(existing)
        for index, row in latest.items():
            _check_row_matches(row, plan[index])
        to_create = [t for t in plan if t.index not in latest or not is_created(latest[t.index])]
        resubmit = [t for t in plan if t.index in latest and latest[t.index]["state"] in FAILED_STATES]
        if resubmit and not resubmit_failed:
            log.warning("%d task(s) of run %s failed or were cancelled; not resubmitted "
                        "(pass resubmit_failed=True with a new approval to pay for them again)",
                        len(resubmit), run_key)
            resubmit = []
        braket = s3 = None
        if to_create or resubmit:
            # ---- pre-flight, before anything can be spent
            _validate_circuits(circuits, device, profile)
            if to_create:
                check_spend(QPU_MODE, estimate.cost_usd, max_budget_usd, approve_usd).raise_if_denied()
            if resubmit:
                # committed: every task created so far plus those about to be created
                spent = sum((row_cost(r) for r in existing if is_created(r)), Decimal(0))
                spent += sum((t.cost_usd for t in to_create), Decimal(0))
                extra = sum((t.cost_usd for t in resubmit), Decimal(0))
                remaining = _remaining_budget(max_budget_usd, spent)
                decision = check_spend(QPU_MODE, to_cents(extra), remaining, approve_resubmit_usd)
                if not decision.allowed:
                    raise BudgetError(
                        f"resubmitting {len(resubmit)} failed task(s) for ${to_cents(extra)} is not "
                        f"allowed: it needs its own approval (approve_resubmit_usd="
                        f"{approve_resubmit_usd!r}) and room in the budget after the "
                        f"${to_cents(spent)} already committed: {decision.reason}"
                    )
            braket, s3 = braket_clients(device.region, braket_client, s3_client)
            _preflight_device(braket, device, shots, estimate.program_sets)
            # ---- reconcile rows written before an interrupted create
            orphans = [latest[t.index] for t in to_create if t.index in latest]
            if orphans:
                _reconcile(braket, ledger, orphans, device, run_key)
            # ---- create (ledger row first, then the task)
            creates = [(t, latest.get(t.index)) for t in to_create]
            creates += [(t, None) for t in resubmit]
            for task, row in creates:
                if row is not None and is_created(row):
                    continue  # found by reconciliation
                if row is None:
                    attempt = int(latest[task.index]["attempt"]) + 1 if task.index in latest else 0
                    row = ledger.upsert(_new_row(task, device=device, run_key=run_key,
                                                 model_version=model_version, attempt=attempt,
                                                 s3_bucket=s3_bucket, s3_prefix=s3_prefix))
                latest[task.index] = row
                row.update(_create_and_record(braket, ledger, row, task))
        else:
            braket, s3 = braket_clients(device.region, braket_client, s3_client) if any(
                _needs_poll(r) for r in latest.values()) else (None, None)
        # ---- poll and read results
        by_index = {t.index: t for t in plan}
        deadline = started + float(poll_timeout_s)
        while True:
            active = [r for r in latest.values() if _needs_poll(r)]
            for row in active:
                _poll(braket, s3, ledger, row, by_index[int(row["task_index"])])
            if not any(_needs_poll(r) for r in latest.values()) or _monotonic() >= deadline:
                break
            _sleep(poll_interval_s)
        return _result(plan, latest, ledger.rows(run_key=run_key, device=device.id), estimate,
                       len(circuits), sample_indices, _monotonic() - started)


def _remaining_budget(max_budget_usd, spent: Decimal):
    try:
        return Decimal(str(max_budget_usd)) - spent
    except Exception:
        return None  # the gate reports a missing or bad budget


def _create_and_record(braket, ledger: Ledger, row: dict, task: PlannedTask) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    log.info("creating task %d of run %s on %s: %d sample(s), %d shots, $%s",
             task.index, row["run_key"], row["device"], len(task.positions), task.shots_total,
             task.cost_usd)
    try:
        arn = _create(braket, row, task)
    except ClientError as exc:
        definitive = not _is_transient(exc)
        if definitive:  # the service refused it: nothing was created
            ledger.upsert({**row, "state": REJECTED, "failure_reason": _describe(exc)})
        raise HardwareError(
            f"CreateQuantumTask for task {task.index} of run {row['run_key']!r} failed: "
            f"{_describe(exc)}; "
            + ("nothing was created" if definitive else
               "it may or may not exist: run again to reconcile (same client token, no double spend)")
        ) from None
    except BotoCoreError as exc:
        raise HardwareError(
            f"CreateQuantumTask for task {task.index} of run {row['run_key']!r} failed "
            f"({type(exc).__name__}); it may or may not exist: run again to reconcile"
        ) from None
    return ledger.upsert({**row, "arn": arn, "state": "CREATED", "failure_reason": None})


def _result(plan, latest, all_rows, estimate, n, sample_indices, wall_s) -> QpuResult:
    counts = np.full((n, 2), np.nan)
    failed, per_task, turnaround, done_samples = [], [], 0.0, 0
    for task in plan:
        row = latest.get(task.index)
        if row is None:
            continue
        if row["state"] in FAILED_STATES:
            failed.extend(task.sample_indices)
        if row.get("counts") is not None:
            for pos, c in zip(task.positions, row["counts"]):
                if c is not None:
                    counts[pos] = c
        if row.get("total_s") is not None and row["state"] == "COMPLETED":
            turnaround += row["total_s"]
            done_samples += len(task.positions)
        per_task.append({"task_index": task.index, "queue_s": row.get("queue_s"),
                         "execution_s": row.get("execution_s"), "total_s": row.get("total_s")})
    created = [r for r in all_rows if is_created(r)]
    cost = sum((row_cost(r) for r in created), Decimal(0))
    first = [r for r in all_rows if int(r.get("attempt", 0)) == 0]
    if len(first) == len(plan) and all(is_created(r) for r in first):
        first_cost = to_cents(sum((row_cost(r) for r in first), Decimal(0)))
        if first_cost != estimate.cost_usd:  # pragma: no cover - plan_tasks checks this
            raise HardwareError(
                f"the created tasks cost ${first_cost} but the approved estimate was ${estimate.cost_usd}"
            )
    pending = any(_needs_poll(r) or not is_created(r) for r in latest.values()) or len(latest) < len(plan)
    return QpuResult(
        counts=counts, tasks=all_rows, cost_usd=cost, pending=pending,
        latency={"tasks": per_task, "wall_s": round(wall_s, 3),
                 "per_inference_s": round(turnaround / done_samples, 3) if done_samples else None},
        sample_indices=[int(i) for i in sample_indices], failed_samples=sorted(failed),
    )
