"""The ``deviceParameters`` JSON of a one-circuit QPU task, from public Braket schemas.

``AwsDevice.run`` (``AwsQuantumTask.create``) sends, with a single circuit, the
provider's device-parameters schema around ``GateModelParameters(qubitCount=...,
disableQubitRewiring=False)``: ``IonqDeviceParameters`` for IonQ,
``RigettiDeviceParameters`` for Rigetti, and the generic
``GateModelSimulatorDeviceParameters`` for every other provider (IQM included).
This module builds the same document from the public ``braket.device_schema``
classes, chosen from a table by the provider in the device ARN
(``arn:aws:braket:<region>::device/qpu/<provider>/<name>``). A test pins the exact
JSON for each device and checks it against what the SDK itself sends, so an SDK
that changes its choice is noticed. Program sets carry no device parameters.

Example:
    >>> from qml_ops.hardware.devices import get_device
    >>> device_parameters_json(get_device("rigetti-cepheus-1-108q").arn, 2)  # doctest: +ELLIPSIS
    '{"braketSchemaHeader": {"name": "braket.device_schema.rigetti.rigetti_device_parameters", ...'
"""

from __future__ import annotations

__all__ = ["device_parameters_json"]


def _schemas() -> dict[str, type]:
    from braket.device_schema.ionq import IonqDeviceParameters
    from braket.device_schema.rigetti import RigettiDeviceParameters

    return {"ionq": IonqDeviceParameters, "rigetti": RigettiDeviceParameters}


def _provider(device_arn: str) -> str:
    parts = device_arn.split("/")
    return parts[-2].lower() if len(parts) >= 3 else ""


def device_parameters_json(device_arn: str, qubit_count: int) -> str:
    """The deviceParameters JSON ``AwsDevice.run`` sends for a circuit on ``qubit_count`` qubits.

    Args:
        device_arn: the QPU's ARN (its provider segment picks the schema).
        qubit_count: ``Circuit.qubit_count`` of the circuit.
    """
    from braket.device_schema import GateModelParameters
    from braket.device_schema.simulators import GateModelSimulatorDeviceParameters

    schema = _schemas().get(_provider(device_arn), GateModelSimulatorDeviceParameters)
    paradigm = GateModelParameters(qubitCount=qubit_count, disableQubitRewiring=False)
    return schema(paradigmParameters=paradigm).json(exclude_none=True)
