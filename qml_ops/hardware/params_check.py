"""``hardware`` params, and the devices tuning and training target, checked against the device catalogue.

:mod:`qml_ops.config` validates the schema of ``params.yaml`` without the
catalogue, so that only the stages that target devices (``tune``, ``train``,
``hardware``) depend on :mod:`qml_ops.hardware.devices` (editing a price must
not re-run ``prepare``).
These checks run in ``qml-ops params check`` (which ``make run`` calls before
``dvc repro``) and before the stage that needs them does any work: the hardware
stage (:func:`check_hardware_params`), the tune stage
(:func:`check_target_devices`: ``tune.target_devices``) and the train stage
(:func:`check_noise_model`: ``train.noise_model``).

Example:
    >>> from qml_ops.config import parse_params
    >>> params = parse_params({"hardware": {"devices": ["iqm-garnet"], "shots": 512}})
    >>> check_hardware_params(params)
    []
"""

from __future__ import annotations

from qml_ops.config import Params, Problem
from qml_ops.hardware.devices import DEVICES, RETIRED

__all__ = ["check_hardware_params", "check_target_devices", "check_noise_model"]


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


def _target_problems(key: str, value, device_id: str, n_qubits: int) -> list[Problem]:
    known = ", ".join(sorted(d for d, dev in DEVICES.items() if dev.is_qpu and dev.status != RETIRED))
    device = DEVICES.get(device_id)
    if device is None:
        return [Problem(key, value, f"unknown device {device_id!r}; known QPUs: {known}")]
    if not device.is_qpu:
        return [Problem(key, value, f"{device_id!r} is the noiseless simulator (no compilation, no noise); "
                                    f"use a QPU: {known}")]
    if device.status == RETIRED and device.successor:
        return [Problem(key, value, f"device {device_id!r} is retired (since {device.retired_on}); use its "
                                    f"successor {device.successor!r}")]
    if device.n_qubits < n_qubits:
        return [Problem(key, value, f"device {device_id!r} has {device.n_qubits} qubits and cannot host the "
                                    f"model's {n_qubits} (encode.n_qubits)")]
    return []


def check_target_devices(params: Params) -> list[Problem]:
    """``tune.target_devices``: known, current QPUs large enough for the model (the tune stage; its
    trials train like the train stage, so :func:`check_noise_model` runs there too).

    Example:
        >>> from qml_ops.config import parse_params
        >>> check_target_devices(parse_params({"tune": {"target_devices": ["iqm-garnet"]}}))
        []
        >>> check_target_devices(parse_params({"tune": {"target_devices": ["nope"]}}))[0].key
        'tune.target_devices'
    """
    n = params.encode.n_qubits
    problems: list[Problem] = []
    for device_id in params.tune.target_devices:
        found = _target_problems("tune.target_devices", params.tune.target_devices, device_id, n)
        problems += found
        device = DEVICES.get(device_id)
        if not found and "cost_per_inference_usd" in params.tune.objectives:  # priced at hardware.shots
            shots = params.hardware.shots
            if shots < device.min_shots or (device.max_shots is not None and shots > device.max_shots):
                problems.append(Problem("hardware.shots", shots, f"cost_per_inference_usd prices {device_id}, "
                                                                 f"which accepts {device.shots_range_text} shots"))
    return problems + check_noise_model(params)


def check_noise_model(params: Params) -> list[Problem]:
    """``train.noise_model``: a known, current QPU large enough for the model (the train stage).

    Example:
        >>> from qml_ops.config import parse_params
        >>> check_noise_model(parse_params({"train": {"noise_model": "iqm-garnet"}}))
        []
    """
    device_id = params.train.noise_model
    if device_id is None:
        return []
    return _target_problems("train.noise_model", device_id, device_id, params.encode.n_qubits)
