"""Checks before anything can be spent: the inputs, the circuits, the live device.

:func:`check_inputs` and :func:`validate_circuits` run offline (the catalogue and
the device's calibrated emulator); :func:`check_device` makes one ``GetDevice``
call: status ``ONLINE``, inside an execution window, program sets and the shots
accepted now; the queue depth is logged. Each refuses with a
:class:`~qml_ops.errors.HardwareError` that says nothing was submitted.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Sequence

from qml_ops.cost import check_shots
from qml_ops.errors import ConfigError, HardwareError
from qml_ops.hardware.devices import ONLINE, Device
from qml_ops.hardware.qpu import aws, clock
from qml_ops.hardware.qpu.windows import execution_window_status

__all__ = ["PROGRAM_SET_ACTION", "check_inputs", "validate_circuits", "check_device"]

log = logging.getLogger(__name__)

PROGRAM_SET_ACTION = "braket.ir.openqasm.program_set"
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
    for i, c in enumerate(circuits):
        try:
            emulator.validate(c.circuit)
        except Exception as exc:
            raise HardwareError(
                f"circuit {i} does not pass {device.id}'s validation (verbatim, native gates, "
                f"connected physical qubits): {exc}; nothing was submitted"
            ) from None


def _capabilities(response: dict, device: Device) -> dict:
    from qml_ops.hardware.profiles import decode_json_document

    return decode_json_document(response.get("deviceCapabilities") or "{}", f"GetDevice {device.arn} capabilities")


def check_device(braket, device: Device, shots: int, program_sets: bool) -> None:
    """Live checks before the first create: status, window, actions, shots, queue."""
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
    now = clock.utcnow()
    inside, next_start = execution_window_status(service.get("executionWindows") or [], now)
    if not inside:
        when = next_start.strftime("%A %Y-%m-%d %H:%M UTC") if next_start else "unknown"
        raise HardwareError(
            f"device {device.id} is outside its execution windows now "
            f"({now:%A %H:%M} UTC); the next window opens {when}. Nothing was submitted; "
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
