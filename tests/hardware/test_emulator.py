"""Licence test of the torch emulator against Braket's LocalEmulator.

The reference probabilities come from Braket itself: the circuit goes through
``LocalEmulator.transform`` (validation plus its noise model), the measurement
is replaced by a probability result type (the bit flip it inserted stays), and
``braket_dm`` computes the exact distribution with ``shots=0``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import HardwareError
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.emulator import NoiseParams, circuit_ops, exact_p1, run_emulated
from qml_ops.hardware.devices import list_devices
from qml_ops.hardware.profiles import build_local_emulator, load_profile

# every QPU of the catalogue, retired ones included (their profiles still compile)
DEVICES = [d.id for d in list_devices() if d.is_qpu]


def braket_exact_p1(circuit, emulator) -> float:
    """P(readout = 1) under LocalEmulator's noise model, computed by braket_dm."""
    from braket.circuits import Circuit
    from braket.circuits.measure import Measure
    from braket.devices import LocalSimulator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noisy = emulator.transform(circuit)
        measured = [int(q) for ins in noisy.instructions if isinstance(ins.operator, Measure)
                    for q in ins.target]
        probe = Circuit([ins for ins in noisy.instructions if not isinstance(ins.operator, Measure)])
        probe.probability(target=measured)
        return float(LocalSimulator("braket_dm").run(probe, shots=0).result().values[0][1])


@pytest.fixture(scope="module")
def setups():
    rng = np.random.default_rng(11)
    spec = QCNNSpec(8, 9, "angle")
    weights = rng.uniform(-math.pi, math.pi, spec.n_weights)
    features = rng.uniform(0, math.pi, (2, spec.n_features))
    out = {}
    for device_id in DEVICES:
        profile = load_profile(device_id)
        compiled = compile_spec(spec, weights, profile).bind_batch(features)
        out[device_id] = (profile, build_local_emulator(profile), compiled)
    return out


@pytest.mark.parametrize("device_id", DEVICES)
def test_noise_parameters_match_local_emulator(device_id, setups):
    profile, emulator, _ = setups[device_id]
    mine = NoiseParams.from_profile(profile)
    theirs = NoiseParams.from_braket_noise_model(emulator.noise_model)
    assert mine.readout == pytest.approx(theirs.readout, abs=1e-15)
    assert mine.one_qubit == pytest.approx(theirs.one_qubit, abs=1e-15)
    assert {k: mine.two_qubit[k] for k in theirs.two_qubit} == pytest.approx(
        theirs.two_qubit, abs=1e-15)


@pytest.mark.parametrize("device_id", DEVICES)
def test_torch_exact_matches_braket_density_matrix(device_id, setups):
    profile, emulator, compiled = setups[device_id]
    got = exact_p1(compiled, NoiseParams.from_profile(profile))
    expected = [braket_exact_p1(c.circuit, emulator) for c in compiled]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # the noise matters at this precision: a noiseless run is far away
    noiseless = exact_p1(compiled, NoiseParams({}, {}, {}))
    assert np.abs(noiseless - got).max() > 1e-3


@pytest.mark.parametrize("device_id", ["iqm-garnet", "ionq-forte-enterprise-1"])
def test_torch_exact_within_sampling_error_of_local_emulator(device_id, setups):
    profile, emulator, compiled = setups[device_id]
    shots = 2000
    sampled = run_emulated(compiled[:1], emulator, shots=shots, backend="braket", seed=5)
    p_braket = sampled.counts[0, 1] / shots
    p_torch = run_emulated(compiled[:1], profile, shots=shots, seed=5).p1[0]
    sigma = math.sqrt(p_torch * (1 - p_torch) / shots)
    assert abs(p_torch - p_braket) < 4 * sigma


def test_heisenberg_and_schrodinger_agree(setups):
    profile, _, compiled = setups["rigetti-cepheus-1-108q"]
    noise = NoiseParams.from_profile(profile)
    np.testing.assert_allclose(exact_p1(compiled, noise, method="heisenberg"),
                               exact_p1(compiled, noise, method="schrodinger"), atol=1e-10)


def test_amplitude_circuits_match_braket():
    """Circuits that differ in every gate take the forward density-matrix path."""
    profile = load_profile("iqm-garnet")
    rng = np.random.default_rng(4)
    spec = QCNNSpec(4, 2, "amplitude")
    compiled = compile_spec(spec, rng.uniform(-3, 3, spec.n_weights), profile).bind_batch(
        rng.uniform(0, 1, (2, spec.n_features)))
    emulator = build_local_emulator(profile)
    got = exact_p1(compiled, NoiseParams.from_profile(profile), method="schrodinger")
    np.testing.assert_allclose(got, [braket_exact_p1(c.circuit, emulator) for c in compiled],
                               atol=1e-6)


@pytest.mark.parametrize("device_id", DEVICES)
def test_braket_circuits_are_accepted_as_input(device_id, setups):
    """Every native gate read back from a Braket circuit (name and angles) gives the
    same probabilities as the compiled ops."""
    profile, _, compiled = setups[device_id]
    noise = NoiseParams.from_profile(profile)
    np.testing.assert_allclose(exact_p1([c.circuit for c in compiled], noise),
                               exact_p1(compiled, noise), atol=1e-12)
    assert circuit_ops(compiled[0].circuit) == (list(compiled[0].ops), compiled[0].readout_qubit)


def test_non_native_braket_gates_are_named():
    from braket.circuits import Circuit

    with pytest.raises(HardwareError, match=r"gate H is not supported by the torch emulator; "
                                            r"supported: \['cz', 'gpi'"):
        circuit_ops(Circuit().h(0).measure(0))


def test_run_emulated_counts_are_seeded(setups):
    profile, _, compiled = setups["iqm-garnet"]
    a = run_emulated(compiled, profile, shots=1000, seed=1)
    b = run_emulated(compiled, profile, shots=1000, seed=1)
    assert a.counts.shape == (2, 2) and (a.counts.sum(1) == 1000).all()
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_allclose(a.exact_expval, 1 - 2 * a.p1)
    assert np.abs(a.expval - a.exact_expval).max() < 0.2


def test_run_emulated_rejects_bad_arguments(setups):
    profile, _, compiled = setups["iqm-garnet"]
    with pytest.raises(HardwareError, match="backend must be one of"):
        run_emulated(compiled, profile, shots=10, backend="qpu")
    with pytest.raises(HardwareError, match="shots must be a positive integer, but got shots=0"):
        run_emulated(compiled, profile, shots=0)
