"""A one-circuit task's deviceParameters: exact JSON per device, and what the SDK sends."""

import json
from unittest import mock

import pytest

from qml_ops.hardware.devices import get_device
from qml_ops.hardware.qpu.device_parameters import device_parameters_json

GATE_MODEL = {"braketSchemaHeader": {"name": "braket.device_schema.gate_model_parameters", "version": "1"},
              "qubitCount": 3, "disableQubitRewiring": False}
EXPECTED = {
    "rigetti-cepheus-1-108q": "braket.device_schema.rigetti.rigetti_device_parameters",
    "iqm-garnet": "braket.device_schema.simulators.gate_model_simulator_device_parameters",
    "iqm-emerald": "braket.device_schema.simulators.gate_model_simulator_device_parameters",
    "ionq-forte-enterprise-1": "braket.device_schema.ionq.ionq_device_parameters",
}


@pytest.mark.parametrize("device_id", sorted(EXPECTED))
def test_exact_json_per_device(device_id):
    text = device_parameters_json(get_device(device_id).arn, 3)
    expected = {"braketSchemaHeader": {"name": EXPECTED[device_id], "version": "1"},
                "paradigmParameters": GATE_MODEL}
    assert text == json.dumps(expected)  # byte for byte: it is hashed into the program hash


@pytest.mark.parametrize("device_id", sorted(EXPECTED))
def test_same_as_the_sdk_sends(device_id):
    """``AwsQuantumTask.create`` (what ``AwsDevice.run`` calls) with a 3-qubit circuit."""
    from braket.aws import AwsQuantumTask
    from braket.circuits import Circuit

    device = get_device(device_id)
    session = mock.MagicMock()
    session.create_quantum_task.return_value = f"arn:aws:braket:{device.region}:123456789012:quantum-task/x"
    circuit = Circuit().h(0).cnot(0, 1).cnot(1, 2)
    AwsQuantumTask.create(session, device.arn, circuit, ("amazon-braket-b", "p"), shots=100)
    sent = session.create_quantum_task.call_args.kwargs["deviceParameters"]
    assert sent == device_parameters_json(device.arn, circuit.qubit_count)
