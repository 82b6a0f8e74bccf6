"""Error mitigation (qml_ops.hardware.mitigation): readout correction and zero-noise extrapolation,
priced before they run, on the real emulators."""

import dataclasses
import math
from decimal import Decimal

import numpy as np
import pytest

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.config import parse_params
from qml_ops.cost import estimate
from qml_ops.errors import ConfigError, HardwareError
from qml_ops.hardware import mitigation
from qml_ops.hardware.backends import BackendOptions, backend_for
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.devices import get_device
from qml_ops.hardware.profiles import load_profile
from qml_ops.hardware.validation import estimates, gate_decision, total_estimate, validate_device
from qml_ops.model import QCNNClassifier

GARNET, IONQ, CEPHEUS = "iqm-garnet", "ionq-forte-enterprise-1", "rigetti-cepheus-1-108q"


def hardware(devices=(GARNET,), mode="emulate", n_samples=24, shots=2000, **mit):
    data = {"mode": mode, "devices": list(devices), "n_samples": n_samples, "shots": shots, "mitigation": mit}
    if mode == "qpu":
        data.update(s3_bucket="amazon-braket-test", max_budget_usd=1000, approve_usd=1000)
    return parse_params({"hardware": data}).hardware


def bad_readout(device_id: str, fidelity: float = 0.85):
    """The device's profile with every qubit's readout fidelity lowered to ``fidelity``."""
    profile = load_profile(device_id)
    return dataclasses.replace(profile, readout_fidelity=dict.fromkeys(profile.readout_fidelity, fidelity))


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, np.pi, (24, 4))
    y = (X[:, 0] > np.pi / 2).astype(int)
    clf = QCNNClassifier(n_qubits=4, ansatz=2, epochs=4, batch_size=8, lr=0.1, threads=1).fit(X, y, X, y)
    return clf, X, y, clf.expval(X)


def validate(hw, profile, model, engine="torch"):
    clf, X, y, z_sim = model
    device_id = hw.devices[0]
    backend = backend_for(engine, get_device(device_id), profile, BackendOptions(seed=0))
    return validate_device(hw, backend, clf, X, y, z_sim, estimates(hw)[device_id], progress=lambda line: None)


# ------------------------------------------------------------------- readout

def test_readout_inversion_is_exact_on_a_known_channel():
    p1 = np.array([0.0, 0.1, 0.5, 0.73, 1.0])
    for f0, f1 in ((0.9, 0.8), (0.97, 0.97), (0.6, 0.99)):
        measured = (1 - f0) * (1 - p1) + f1 * p1  # P(read 1) through the channel
        assert np.allclose(mitigation.mitigate_p1(measured, f0, f1), p1, atol=1e-12)
    # frequencies beyond what the channel can produce are clipped to a probability
    assert mitigation.mitigate_p1(np.array([0.0, 1.0]), 0.9, 0.9).tolist() == [0.0, 1.0]
    with pytest.raises(HardwareError, match=r"f0 \+ f1 > 1"):
        mitigation.mitigate_p1(np.array([0.5]), 0.5, 0.5)


def test_profile_fidelities_are_the_readout_qubits():
    profile = load_profile(GARNET)
    q = sorted(profile.readout_fidelity)[3]
    assert mitigation.profile_fidelities(profile, q) == (profile.readout_fidelity[q],) * 2
    with pytest.raises(HardwareError, match="no readout fidelity for qubit 999"):
        mitigation.profile_fidelities(profile, 999)


@pytest.mark.parametrize("device_id", [GARNET, IONQ])
def test_readout_mitigation_lowers_the_expval_error_on_an_emulated_device(model, device_id):
    profile = bad_readout(device_id)
    raw = validate(hardware([device_id], readout="none"), profile, model).metrics
    assert raw["mitigation"] == "none" and raw["expval_mae_mitigated"] == raw["expval_mae"]
    assert raw["accuracy_mitigated"] == raw["accuracy"]
    m = validate(hardware([device_id]), profile, model).metrics  # default: readout=profile
    assert m["mitigation"] == "readout=profile" and m["readout_fidelity_0"] == m["readout_fidelity_1"] == 0.85
    assert m["expval_mae"] == raw["expval_mae"]  # same seed, same raw counts
    assert m["expval_mae_mitigated"] < 0.6 * m["expval_mae"], (m["expval_mae"], m["expval_mae_mitigated"])
    assert m["accuracy_mitigated_ci_low"] <= m["accuracy_mitigated"] <= m["accuracy_mitigated_ci_high"]
    assert m["cost_usd"] == raw["cost_usd"]  # free: no extra shots


def test_calibration_circuits_measure_the_readout_and_are_paid_for(model):
    profile = bad_readout(GARNET, 0.8)
    hw = hardware(readout="calibration", calibration_shots=4000)
    est = estimates(hw)[GARNET]
    result = validate(hw, profile, model)
    m = result.metrics
    assert m["mitigation"] == "readout=calibration"
    assert abs(m["readout_fidelity_0"] - 0.8) < 0.03 and abs(m["readout_fidelity_1"] - 0.8) < 0.03
    assert m["expval_mae_mitigated"] < 0.6 * m["expval_mae"]
    assert m["cost_usd"] == float(est.cost_usd) and m["tasks"] == est.tasks
    # the calibration circuits prepare |0> and |1> on the readout qubit
    clf, X, _, _ = model
    circuit = compile_spec(clf.spec, clf.weights_, profile).bind(X[0])
    zero, one = mitigation.calibration_circuits(circuit, profile)
    assert zero.readout_qubit == one.readout_qubit == circuit.readout_qubit
    assert np.allclose(abs(one.circuit.to_unitary()), [[0, 1], [1, 0]])
    assert np.allclose(abs(zero.circuit.to_unitary()), np.eye(2))


def test_calibration_is_priced_in_the_estimate():
    device = get_device(GARNET)
    base = estimate(device, 24, 2000)
    assert estimates(hardware())[GARNET] == base  # readout=profile: free, the estimate is the base run's
    est = estimates(hardware(readout="calibration", calibration_shots=1000))[GARNET]
    cal = estimate(device, 2, 1000)
    assert est.parts == (cal,) and est.base_run() == base
    assert est.cost_usd == base.cost_usd + cal.cost_usd > base.cost_usd
    assert est.tasks == base.tasks + cal.tasks and est.shots_total == base.shots_total + 2000
    assert est.to_dict()["parts"][0]["shots_total"] == 2000


def test_calibration_and_zne_are_refused_for_qpu_mode_with_the_key():
    with pytest.raises(ConfigError, match="hardware.mitigation.readout = 'calibration'"):
        hardware(mode="qpu", readout="calibration")
    with pytest.raises(ConfigError, match="hardware.mitigation.zne.enabled = True"):
        hardware(mode="qpu", zne={"enabled": True})
    assert hardware(mode="qpu").mitigation.readout == "profile"  # free mitigation is fine on a QPU


@pytest.mark.parametrize("factors", [[1], [1, 2, 3], [3, 1], [0, 1], [1, 1, 3]])
def test_scale_factors_are_odd_and_increasing(factors):
    with pytest.raises(ConfigError, match=r"hardware.mitigation.zne.scale_factors = .*odd integers"):
        hardware(zne={"enabled": True, "scale_factors": factors})


def test_calibration_shots_outside_the_devices_range_name_the_device():
    with pytest.raises(ConfigError, match="shots=50000 is outside the range of device 'iqm-garnet'"):
        estimates(hardware(readout="calibration", calibration_shots=50_000))


# ----------------------------------------------------------------------- ZNE

def test_zne_multiplies_executables_shots_and_cost_and_the_gate_sees_the_total():
    base = estimates(hardware([GARNET, IONQ]))
    zne = estimates(hardware([GARNET, IONQ], zne={"enabled": True, "scale_factors": [1, 3, 5]}))
    for device_id in (GARNET, IONQ):
        b, z = base[device_id], zne[device_id]
        assert len(z.parts) == 2 and z.base_run() == b
        assert (z.tasks, z.shots_total, z.cost_usd) == (3 * b.tasks, 3 * b.shots_total, 3 * b.cost_usd)
    assert total_estimate(zne) == 3 * total_estimate(base)
    # a budget that covers the plain run refuses the run with zero-noise extrapolation
    budget = float(total_estimate(base)) + 1
    qpu = parse_params({"hardware": {"mode": "qpu", "devices": [GARNET, IONQ], "n_samples": 24, "shots": 2000,
                                     "s3_bucket": "amazon-braket-test", "max_budget_usd": budget,
                                     "approve_usd": budget}}).hardware
    assert gate_decision(qpu, base).allowed
    denied = gate_decision(qpu, zne)
    assert not denied.allowed and f"${total_estimate(zne):,}" in denied.reason


@pytest.mark.parametrize("device_id", [GARNET, IONQ, CEPHEUS])
def test_folding_keeps_the_noiseless_unitary(device_id):
    spec = QCNNSpec(4, 2, "angle")
    rng = np.random.default_rng(1)
    circuit = compile_spec(spec, rng.uniform(-math.pi, math.pi, spec.n_weights), load_profile(device_id)).bind(
        rng.uniform(0, math.pi, spec.n_features))
    u1 = circuit.circuit.to_unitary()  # Braket's noiseless simulator of the verbatim circuit
    head, body = mitigation.split_head(circuit.ops)
    assert head and body and all(len(qs) == 1 for _, qs, _ in head) and len(body[0][1]) == 2
    for scale in (3, 5):
        folded = mitigation.fold(circuit, scale)
        assert len(folded.ops) == len(head) + scale * len(body)
        assert mitigation.split_head(folded.ops)[0] == head  # samples still differ only in their heads
        assert folded.two_qubit_gate_count == scale * circuit.two_qubit_gate_count
        assert folded.readout_qubit == circuit.readout_qubit and folded.depth > circuit.depth
        u = folded.circuit.to_unitary()
        phase = np.vdot(u1.ravel(), u.ravel())
        assert abs(abs(phase) - len(u1)) < 1e-8  # equal up to a global phase
        assert np.allclose(u, phase / abs(phase) * u1, atol=1e-9)
    assert mitigation.fold(circuit, 1) is circuit
    with pytest.raises(HardwareError, match="odd integer >= 1, but got 2"):
        mitigation.fold(circuit, 2)


def test_richardson_extrapolates_a_polynomial_exactly():
    assert mitigation.richardson([1, 3], [0.8, 0.6]) == pytest.approx(0.9)
    quadratic = [0.5 - 0.1 * x + 0.01 * x * x for x in (1, 3, 5)]
    assert mitigation.richardson([1, 3, 5], quadratic) == pytest.approx(0.5)


def test_zne_runs_the_folded_circuits_on_the_emulator_and_lowers_the_gate_noise(model):
    profile = load_profile(GARNET)
    perfect_readout = dataclasses.replace(profile, readout_fidelity=dict.fromkeys(profile.readout_fidelity, 1.0))
    hw = hardware([GARNET], shots=20_000, readout="none", zne={"enabled": True, "scale_factors": [1, 3, 5]})
    est = estimates(hw)[GARNET]
    m = validate(hw, perfect_readout, model).metrics
    assert m["mitigation"] == "zne[1,3,5]" and m["zne_scale_factors"] == [1, 3, 5]
    means = m["zne_expval_mean_by_factor"]
    assert set(means) == {"1", "3", "5"}
    assert m["expval_mae_mitigated"] < 0.7 * m["expval_mae"], (m["expval_mae"], m["expval_mae_mitigated"])
    assert m["cost_usd"] == float(est.cost_usd) and m["tasks"] == est.tasks == 3 * est.base_run().tasks


def test_the_estimate_must_price_what_mitigation_runs(model):
    clf, X, y, z_sim = model
    hw = hardware(readout="calibration")
    stale = estimates(hardware())[GARNET]  # priced without the calibration circuits
    backend = backend_for("torch", get_device(GARNET), load_profile(GARNET), BackendOptions(seed=0))
    with pytest.raises(HardwareError, match="prices 0 mitigation runs, but hardware.mitigation asks for 1"):
        validate_device(hw, backend, clf, X, y, z_sim, stale, progress=lambda line: None)


def test_method_names():
    assert mitigation.method_name(hardware().mitigation) == "readout=profile"
    assert mitigation.method_name(hardware(readout="none").mitigation) == "none"
    assert mitigation.method_name(hardware(readout="calibration", zne={"enabled": True}).mitigation) == \
        "readout=calibration+zne[1,3,5]"
    assert Decimal(0) == estimates(hardware())[GARNET].base_run().cost_usd - estimate(
        get_device(GARNET), 24, 2000).cost_usd


def test_the_printed_estimate_names_the_mitigation_runs():
    from qml_ops.hardware.reporting import estimate_table

    text = estimate_table(estimates(hardware(zne={"enabled": True})), "emulate")
    assert "incl. error mitigation: 2 extra runs" in text
    assert "incl. error mitigation" not in estimate_table(estimates(hardware()), "emulate")
