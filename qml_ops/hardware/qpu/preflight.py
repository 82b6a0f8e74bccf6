"""Checks before anything can be spent: the inputs, the circuits, the live device, the bucket.

They gate only *new creates*: a run whose tasks already exist always polls and
collects them, whatever these checks say (see :mod:`qml_ops.hardware.qpu.submit`).

:func:`check_inputs` and :func:`validate_circuits` run offline (the catalogue and
the device's calibrated emulator). :func:`check_device` makes one ``GetDevice``
call: status ``ONLINE``; every circuit passes Braket's ``LocalEmulator`` built
from the live device document itself (stricter than one rebuilt from a profile);
program sets, their executable and shot limits and the shots range accepted now;
the queue depth. Outside an execution window it warns with the next window and
the wait (Braket queues the tasks until the window opens) or, with
``refuse_outside_window``, refuses. :func:`check_bucket` checks the results
bucket: reachable, writable, in the device's region, named ``amazon-braket-...``.
Each refusal is a :class:`~qml_ops.errors.HardwareError` that says nothing was
submitted.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from qml_ops.cost import check_shots
from qml_ops.errors import ConfigError, HardwareError
from qml_ops.hardware.devices import ONLINE, Device
from qml_ops.hardware.qpu import aws, clock
from qml_ops.hardware.qpu.windows import execution_window_status

__all__ = ["PROGRAM_SET_ACTION", "BUCKET_PREFIX", "DeviceCheck", "check_inputs", "validate_circuits",
           "check_device", "check_bucket", "task_sizes", "wait_text"]

log = logging.getLogger(__name__)

PROGRAM_SET_ACTION = "braket.ir.openqasm.program_set"
#: Result buckets must be named so (Amazon Braket Developer Guide: the S3 bucket for
#: results must start with ``amazon-braket-``; the AmazonBraketFullAccess policy
#: grants S3 access only to such buckets).
BUCKET_PREFIX = "amazon-braket-"
_TAG_VALUE = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,128}$")


def check_inputs(device: Device, circuits: Sequence[Any], shots: int, sample_indices: Sequence[int],
                 run_key: str, model_version: str) -> None:
    """The run's arguments: a catalogued ONLINE QPU, one unique index per circuit,
    tag-safe ``run_key``/``model_version``, shots in the device's range.

    Raises:
        HardwareError: not a QPU, or not ONLINE in the catalogue.
        ConfigError: bad circuits, indices, run key, model version or shots.
    """
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


def validate_circuits(circuits: Sequence[Any], device: Device, profile=None) -> None:
    """Every circuit passes the device's own validation (verbatim box, native gates,
    connected physical qubits), through Braket's ``LocalEmulator`` of ``profile``
    (default: the device's profile file)."""
    from qml_ops.hardware.profiles import build_local_emulator, load_profile

    profile = profile if profile is not None else load_profile(device.default_profile or device.id)
    emulator = build_local_emulator(profile)
    _validate_each(emulator, circuits, f"{device.id}'s validation")


def _capabilities(response: dict, device: Device) -> dict:
    from qml_ops.hardware.profiles import decode_json_document

    return decode_json_document(response.get("deviceCapabilities") or "{}", f"GetDevice {device.arn} capabilities")


def wait_text(seconds: float) -> str:
    """A wait as people read it: ``45 min``, ``1 d 12 h``."""
    minutes = int(round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@dataclass(frozen=True)
class DeviceCheck:
    """What :func:`check_device` saw: ``notes`` are warnings worth showing
    (outside a window, queue depth); ``inside_window`` and ``next_window`` as read."""

    status: str
    inside_window: bool
    next_window: datetime | None
    queue: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def _validate_live(circuits: Sequence[Any], device: Device, document: dict) -> None:
    """Every circuit passes Braket's LocalEmulator of the live device document."""
    from braket.emulation.local_emulator import LocalEmulator

    try:
        emulator = LocalEmulator.from_json(json.dumps(document))
    except Exception as exc:  # an SDK that cannot read the document: say so, do not guess
        raise HardwareError(f"cannot build Braket's emulator from {device.id}'s live document: {exc}; "
                            "nothing was submitted") from None
    _validate_each(emulator, circuits, f"{device.id}'s live device document")


def task_sizes(plan: Sequence[Any] = (), estimate: Any = None) -> list[tuple[int, int]]:
    """``(executables, total shots)`` per task, of a plan or of an estimate's layout."""
    if plan:
        return [(len(t.positions), t.shots_total) for t in plan]
    if estimate is None:
        return []
    per = estimate.executables_per_task if estimate.program_sets else 1
    sizes = [per] * (estimate.n_samples // per) + ([estimate.n_samples % per] if estimate.n_samples % per else [])
    return [(n, n * estimate.shots) for n in sizes]


def _check_program_sets(caps: dict, device: Device, sizes: Sequence[tuple[int, int]]) -> None:
    action = (caps.get("action") or {}).get(PROGRAM_SET_ACTION)
    if action is None:
        raise HardwareError(f"device {device.id} does not accept program sets now; nothing was submitted")
    max_exec = action.get("maximumExecutables")
    max_shots = action.get("maximumTotalShots")
    device_max = ((caps.get("service") or {}).get("shotsRange") or [None, None])[1]
    for index, (executables, shots_total) in enumerate(sizes):
        if max_exec is not None and executables > max_exec:
            raise HardwareError(f"task {index} holds {executables} executables, but {device.id} "
                                f"takes at most {max_exec} per program set now; estimate again (nothing was submitted)")
        for limit, what in ((max_shots, "the program-set limit"), (device_max, "its shots range")):
            if limit is not None and shots_total > limit:
                raise HardwareError(f"task {index} holds {shots_total} shots, but {device.id} takes at "
                                    f"most {limit} ({what}) now; estimate again (nothing was submitted)")


def check_device(braket, device: Device, shots: int, program_sets: bool, *, circuits: Sequence[Any] = (),
                 sizes: Sequence[tuple[int, int]] = (), refuse_outside_window: bool = False) -> DeviceCheck:
    """Live checks before the first create: status, the circuits against the live
    document, program-set limits, shots, window, queue.

    Raises:
        HardwareError: not ONLINE; a circuit the live document rejects; program
            sets, their limits or the shots not accepted now; outside an
            execution window with ``refuse_outside_window``.
    """
    response = aws.read(braket.get_device, f"GetDevice {device.arn}", deviceArn=device.arn)
    status = response.get("deviceStatus")
    if status != ONLINE:
        reason = (response.get("deviceStatusReason") or {}).get("message") if isinstance(
            response.get("deviceStatusReason"), dict) else None
        raise HardwareError(
            f"device {device.id} ({device.arn}) is {status}{f' ({reason})' if reason else ''}, "
            "not ONLINE: nothing was submitted"
        )
    caps = _capabilities(response, device)
    service = caps.get("service", {})
    if program_sets:
        _check_program_sets(caps, device, sizes)
    shots_range = service.get("shotsRange")
    if shots_range and not shots_range[0] <= shots <= shots_range[1]:
        raise HardwareError(
            f"shots={shots} is outside device {device.id}'s live range {shots_range[0]}–{shots_range[1]}"
        )
    if circuits:
        _validate_live(circuits, device, caps)
    queues = [f"{q.get('queue')}/{q.get('queuePriority')}={q.get('queueSize')}"
              for q in response.get("deviceQueueInfo") or []]
    queue = ", ".join(queues) or "not reported"
    log.info("device %s is ONLINE; queue depth: %s", device.id, queue)
    now = clock.utcnow()
    inside, next_start = execution_window_status(service.get("executionWindows") or [], now)
    notes = []
    if not inside:
        when = next_start.strftime("%A %Y-%m-%d %H:%M UTC") if next_start else "unknown"
        wait = f" (in {wait_text((next_start - now).total_seconds())})" if next_start else ""
        text = (f"device {device.id} is outside its execution windows now ({now:%A %H:%M} UTC); the next "
                f"window opens {when}{wait}")
        if refuse_outside_window:
            raise HardwareError(f"{text}. Nothing was submitted (hardware.refuse_outside_window is true); "
                                "run again inside a window")
        notes.append(f"{text}: tasks wait in the queue until then, after the {queue} tasks queued now")
        log.warning("%s", notes[-1])
    return DeviceCheck(status=status, inside_window=inside, next_window=next_start, queue=queue, notes=tuple(notes))


def check_bucket(s3, bucket: str | None, prefix: str, region: str) -> list[str]:
    """Problems with the results bucket (empty if none): named ``amazon-braket-...``,
    reachable, in ``region``, and writable under ``prefix`` (a probe object is
    written and deleted)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not bucket:
        return ["hardware.s3_bucket is not set"]
    problems = []
    if not bucket.startswith(BUCKET_PREFIX):
        problems.append(f"bucket {bucket!r} is not named {BUCKET_PREFIX}...: Braket writes results only to such buckets")
    try:
        aws.retrying(s3.head_bucket, f"HeadBucket {bucket}", aws.READ_ATTEMPTS, Bucket=bucket)
        location = aws.retrying(s3.get_bucket_location, f"GetBucketLocation {bucket}", aws.READ_ATTEMPTS,
                                Bucket=bucket).get("LocationConstraint") or "us-east-1"
    except (ClientError, BotoCoreError) as exc:
        return problems + [f"bucket {bucket!r} is not reachable: {aws.describe_error(exc)}"]
    if location != region:
        problems.append(f"bucket {bucket!r} is in {location}, but the device is in {region}: Braket needs the "
                        "results bucket in the device's region")
    key = f"{prefix.rstrip('/')}/.qml-ops-preflight/{uuid.uuid4().hex}"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"qml-ops preflight: safe to delete")
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        problems.append(f"cannot write to s3://{bucket}/{prefix}: {aws.describe_error(exc)}")
    return problems


def _validate_each(emulator, circuits, against: str) -> None:
    """Every circuit through Braket's emulator validation (verbatim box, native gates, connected
    physical qubits); the first that fails stops the run before anything is submitted."""
    for i, c in enumerate(circuits):
        try:
            emulator.validate(c.circuit)
        except Exception as exc:
            raise HardwareError(
                f"circuit {i} does not pass {against} (verbatim, native gates, connected physical qubits): "
                f"{exc}; nothing was submitted"
            ) from None
