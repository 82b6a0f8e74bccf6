"""``hardware`` params checked against the device catalogue.

:mod:`qml_ops.config` validates the schema of ``params.yaml`` without the
catalogue, so that only the ``hardware`` stage depends on
:mod:`qml_ops.hardware.devices` (editing a price must not re-run ``prepare``).
These checks run in ``qml-ops params check`` (which ``make run`` calls before
``dvc repro``) and before the hardware stage does any work.

Example:
    >>> from qml_ops.config import parse_params
    >>> params = parse_params({"hardware": {"devices": ["iqm-garnet"], "shots": 512}})
    >>> check_hardware_params(params)
    []
"""

from __future__ import annotations

from qml_ops.config import Params, Problem
from qml_ops.hardware.devices import DEVICES, RETIRED

__all__ = ["check_hardware_params"]


def check_hardware_params(params: Params) -> list[Problem]:
    """Unknown or retired devices, and shots outside a device's range.

    Returns:
        The problems found (empty when the hardware section fits the catalogue).
    """
    hw = params.hardware
    problems: list[Problem] = []
    known = ", ".join(sorted(DEVICES))
    for key, ids in (("hardware.devices", hw.devices), ("hardware.prices", list(hw.prices))):
        for device_id in ids:
            if device_id not in DEVICES:
                problems.append(Problem(key, ids, f"unknown device {device_id!r}; known devices: {known}"))
    for device_id in hw.devices:
        device = DEVICES.get(device_id)
        if device is None:
            continue
        if device.status == RETIRED and device.successor:
            problems.append(Problem(
                "hardware.devices", hw.devices,
                f"device {device_id!r} is retired (since {device.retired_on}); use its successor "
                f"{device.successor!r}",
            ))
        if hw.mode != "off" and device.is_qpu:
            upper = device.max_shots
            if hw.shots < device.min_shots or (upper is not None and hw.shots > upper):
                problems.append(Problem("hardware.shots", hw.shots,
                                        f"{device_id} accepts {device.shots_range_text} shots per task"))
    return problems
