"""The trajectory emulator against its references.

* the density-matrix emulator (itself checked against Braket's ``braket_dm`` and
  ``LocalEmulator`` in test_emulator.py / test_emulator_noise.py) on 8-qubit
  circuits compiled for every device profile: agreement within the trajectory
  estimate's own standard error, with fixed seeds;
* the noiseless simulator (:class:`qml_ops.simulation.BatchedSimulator`): with
  zero noise every trajectory is the ideal state, so the result is exact;
* itself: the same seed gives the same errors whatever the chunking, fusion
  width or device, and the standard error it reports is the spread it shows.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import HardwareError
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.devices import list_devices
from qml_ops.hardware.emulator import Channel, NoiseParams, exact_p1, run_emulated, trajectory_p1
from qml_ops.hardware.profiles import load_profile
from qml_ops.simulation import BatchedSimulator

DEVICES = [d.id for d in list_devices() if d.is_qpu]
SPEC = QCNNSpec(8, 9, "angle")


@pytest.fixture(scope="module")
def compiled():
    """Per device: profile, weights, features and 3 compiled 8-qubit circuits."""
    rng = np.random.default_rng(21)
    weights = rng.uniform(-math.pi, math.pi, SPEC.n_weights)
    features = rng.uniform(0, math.pi, (3, SPEC.n_features))
    return {d: (load_profile(d), weights, features, compile_spec(SPEC, weights, load_profile(d)).bind_batch(features))
            for d in DEVICES}


def relaxation(circuits, gamma_ad: float, gamma_pd: float) -> dict:
    """Amplitude and phase damping after every gate on every qubit it touches."""
    return {(name, q): (Channel.amplitude_damping(gamma_ad), Channel.phase_damping(gamma_pd))
            for c in circuits for name, qs, _ in c.ops for q in qs}


@pytest.mark.parametrize("device_id", DEVICES)
def test_trajectories_agree_with_the_density_matrix_on_every_profile(device_id, compiled):
    profile, _, _, circuits = compiled[device_id]
    noise = NoiseParams.from_profile(profile)
    exact = exact_p1(circuits, noise)
    result = trajectory_p1(circuits, noise, trajectories=256, seed=3)
    assert result.trajectories == 256 and (result.p1_stderr > 0).all()
    z = (result.p1 - exact) / result.p1_stderr
    assert np.abs(z).max() < 4.5, (result.p1, exact, result.p1_stderr)
    # the noise is visible at this precision: the test can tell noisy from noiseless
    noiseless = exact_p1(circuits, NoiseParams.noiseless())
    assert (np.abs(noiseless - exact) / result.p1_stderr).max() > 5


@pytest.mark.parametrize("device_id", ["iqm-garnet", "ionq-forte-enterprise-1", "rigetti-cepheus-1-108q"])
def test_zero_noise_equals_the_noiseless_simulator(device_id, compiled):
    profile, weights, features, circuits = compiled[device_id]
    sim = BatchedSimulator(SPEC, dtype=torch.complex128)
    z = sim.expval(torch.as_tensor(weights), torch.as_tensor(features)).numpy()
    result = trajectory_p1(circuits, NoiseParams.noiseless(), trajectories=3, seed=0, dtype=torch.complex128)
    np.testing.assert_allclose(result.p1, (1 - z) / 2, atol=1e-10)
    assert (result.p1_stderr == 0).all()  # every trajectory is the ideal state


@pytest.mark.parametrize("device_id", ["iqm-garnet", "ionq-forte-enterprise-1"])
def test_amplitude_damping_and_dephasing_agree_with_the_density_matrix(device_id, compiled):
    """Non-Pauli channels: Kraus branches drawn with state-dependent probabilities (also
    inside the encoding, where IonQ has two gates per qubit)."""
    profile, _, _, circuits = compiled[device_id]
    noise = replace(NoiseParams.from_profile(profile), gate_channels=relaxation(circuits, 0.01, 0.02))
    exact = exact_p1(circuits, noise)
    result = trajectory_p1(circuits, noise, trajectories=256, seed=4)
    z = (result.p1 - exact) / result.p1_stderr
    assert np.abs(z).max() < 4.5, (result.p1, exact, result.p1_stderr)
    without = exact_p1(circuits, NoiseParams.from_profile(profile))
    assert (np.abs(without - exact) / result.p1_stderr).max() > 5  # the damping shows


def test_same_seed_same_result_whatever_the_chunks_and_fusion(compiled):
    profile, _, _, circuits = compiled["rigetti-cepheus-1-108q"]
    noise = replace(NoiseParams.from_profile(profile), gate_channels=relaxation(circuits, 0.01, 0.02))
    runs = [trajectory_p1(circuits, noise, trajectories=6, seed=9, dtype=torch.complex128, **kw)
            for kw in ({}, {"max_chunk_bytes": 3 * 16 * 256 * 2}, {"max_chunk_bytes": 3 * 16 * 256 * 5},
                       {"fuse_qubits": 2}, {"fuse_qubits": 7})]
    for other in runs[1:]:
        np.testing.assert_allclose(other.p1, runs[0].p1, atol=1e-12)
        np.testing.assert_allclose(other.p1_stderr, runs[0].p1_stderr, atol=1e-12)
    assert not np.allclose(trajectory_p1(circuits, noise, trajectories=6, seed=10).p1, runs[0].p1, atol=1e-6)


def test_the_reported_standard_error_is_the_spread_of_the_estimate():
    """Over 60 seeds, the estimates scatter as their standard errors say (and centre on the exact value)."""
    profile = load_profile("rigetti-cepheus-1-108q")
    rng = np.random.default_rng(2)
    spec = QCNNSpec(4, 9, "angle")
    circuits = compile_spec(spec, rng.uniform(-3, 3, spec.n_weights), profile).bind_batch(
        rng.uniform(0, 3, (1, spec.n_features)))
    noise = NoiseParams.from_profile(profile)
    exact = exact_p1(circuits, noise)[0]
    runs = [trajectory_p1(circuits, noise, trajectories=48, seed=s) for s in range(60)]
    means = np.array([r.p1[0] for r in runs])
    stderr = np.array([r.p1_stderr[0] for r in runs])
    assert 0.7 < means.std(ddof=1) / stderr.mean() < 1.4
    assert np.mean(np.abs(means - exact) < 2 * stderr) > 0.8
    assert abs(means.mean() - exact) < 4 * means.std(ddof=1) / math.sqrt(len(runs))  # unbiased


def test_run_emulated_chooses_and_records_the_method(compiled):
    profile, _, _, circuits = compiled["iqm-garnet"]
    auto = run_emulated(circuits, profile, shots=300, seed=1)
    assert auto.method == "density_matrix" and auto.trajectories is None
    assert (auto.p1_stderr == 0).all()
    traj = run_emulated(circuits, profile, shots=300, seed=1, method="trajectories", trajectories=16)
    assert traj.method == "trajectories" and traj.trajectories == 16 and (traj.p1_stderr > 0).all()
    assert (traj.counts.sum(1) == 300).all()
    again = run_emulated(circuits, profile, shots=300, seed=1, method="trajectories", trajectories=16)
    np.testing.assert_array_equal(again.counts, traj.counts)
    np.testing.assert_array_equal(again.p1, traj.p1)
    with pytest.raises(HardwareError, match=r"emulator method must be one of \['auto', 'density_matrix', "
                                            r"'trajectories'\], but got method='mps'"):
        run_emulated(circuits, profile, shots=10, method="mps")


def test_sixteen_qubits_run_as_trajectories_not_as_a_density_matrix():
    profile = load_profile("ionq-forte-enterprise-1")
    rng = np.random.default_rng(0)
    spec = QCNNSpec(16, 2, "angle")
    circuits = compile_spec(spec, rng.uniform(-3, 3, spec.n_weights), profile, layout_trials=1).bind_batch(
        rng.uniform(0, 3, (2, spec.n_features)))
    with pytest.raises(HardwareError, match=r"the circuit uses 16 qubits; the density-matrix emulator handles "
                                            r"<= 13 \(the trajectory emulator handles more\)"):
        exact_p1(circuits, NoiseParams.from_profile(profile))
    result = run_emulated(circuits, profile, shots=100, seed=0, trajectories=4)
    assert result.method == "trajectories" and result.p1.shape == (2,) and ((0 <= result.p1) & (result.p1 <= 1)).all()


def test_bad_arguments_are_named(compiled):
    profile, _, _, circuits = compiled["iqm-garnet"]
    noise = NoiseParams.from_profile(profile)
    with pytest.raises(HardwareError, match="trajectories must be an integer >= 2, but got trajectories=1"):
        trajectory_p1(circuits, noise, trajectories=1)
    with pytest.raises(HardwareError, match="fuse_qubits must be in 2..8, but got fuse_qubits=1"):
        trajectory_p1(circuits, noise, fuse_qubits=1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_result(compiled):
    """The errors are drawn on the host: the same seed gives the same trajectories on either device."""
    profile, _, _, circuits = compiled["iqm-garnet"]
    noise = replace(NoiseParams.from_profile(profile), gate_channels=relaxation(circuits, 0.01, 0.02))
    cpu = trajectory_p1(circuits, noise, trajectories=32, seed=5, dtype=torch.complex128)
    gpu = trajectory_p1(circuits, noise, trajectories=32, seed=5, dtype=torch.complex128, device="cuda")
    np.testing.assert_allclose(gpu.p1, cpu.p1, atol=1e-9)
    np.testing.assert_allclose(gpu.p1_stderr, cpu.p1_stderr, atol=1e-9)
