"""The emulators' noise model: channels, and the density matrix's general channels against Braket.

Reference: Braket's own density-matrix simulator (``braket_dm``) on the same
verbatim circuit with Braket's ``AmplitudeDamping``/``PhaseDamping``/``BitFlip``
noise instructions after each gate, exact probabilities (``shots=0``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from qml_ops.circuits.gates import GATE_TABLE, gate_matrix
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import HardwareError
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.emulator import Channel, NoiseParams, exact_p1, pauli_matrix, thermal_relaxation
from qml_ops.hardware.profiles import load_profile


def apply(channel: Channel, rho: np.ndarray) -> np.ndarray:
    return sum(k @ rho @ k.conj().T for k in channel.kraus)


def random_density_matrix(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


def test_depolarizing_is_the_pauli_mixture_braket_defines():
    from braket.circuits.noises import Depolarizing, TwoQubitDepolarizing

    rho1, rho2 = random_density_matrix(2, 0), random_density_matrix(4, 1)
    for p in (0.01, 0.2):
        braket = sum(k @ rho1 @ k.conj().T for k in Depolarizing(p).to_matrix())
        np.testing.assert_allclose(apply(Channel.depolarizing(1 - 4 * p / 3), rho1), braket, atol=1e-12)
        braket2 = sum(k @ rho2 @ k.conj().T for k in TwoQubitDepolarizing(p).to_matrix())
        np.testing.assert_allclose(apply(Channel.depolarizing(1 - 16 * p / 15, 2), rho2), braket2, atol=1e-12)
    ch = Channel.depolarizing(0.9)
    assert ch.depolarizing_lambda == 0.9 and ch.pauli_probs == pytest.approx([0.925, 0.025, 0.025, 0.025])


def test_pauli_channels_are_recognised_from_their_kraus_operators():
    assert Channel.amplitude_damping(0.1).pauli_probs is None
    # phase damping is a phase flip with p = (1 - sqrt(1 - gamma)) / 2
    p = (1 - math.sqrt(1 - 0.3)) / 2
    assert Channel.phase_damping(0.3).pauli_probs == pytest.approx([1 - p, 0, 0, p])
    assert Channel.bit_flip(0.05).pauli_probs == pytest.approx([0.95, 0.05, 0, 0])
    # a unitary that is not a Pauli is not a Pauli channel
    assert Channel("rx(0.3)", (gate_matrix("rx", 0.3),)).pauli_probs is None
    assert pauli_matrix(7, 2) == pytest.approx(np.kron(pauli_matrix(1, 1), pauli_matrix(3, 1)))


def test_twirled_amplitude_damping_has_the_textbook_probabilities():
    gamma = 0.2
    probs = Channel.amplitude_damping(gamma).twirled().pauli_probs
    s = math.sqrt(1 - gamma)
    assert probs == pytest.approx([(1 + s) ** 2 / 4, gamma / 4, gamma / 4, (1 - s) ** 2 / 4])
    # the twirl keeps populations' decay on average but drops the coherent part
    rho = random_density_matrix(2, 3)
    assert not np.allclose(apply(Channel.amplitude_damping(gamma), rho),
                           apply(Channel.amplitude_damping(gamma).twirled(), rho), atol=1e-3)


def test_thermal_relaxation_decays_populations_with_t1_and_coherences_with_t2():
    t, t1, t2 = 0.3, 50.0, 30.0
    rho = np.array([[0.2, 0.3 - 0.1j], [0.3 + 0.1j, 0.8]])
    for ch in thermal_relaxation(t, t1, t2):
        rho = apply(ch, rho)
    assert rho[1, 1].real == pytest.approx(0.8 * math.exp(-t / t1), rel=1e-12)
    assert rho[0, 1] == pytest.approx((0.3 - 0.1j) * math.exp(-t / t2), rel=1e-12)
    with pytest.raises(HardwareError, match=r"0 < T2 <= 2·T1, but got duration=0.3, T1=50.0, T2=120.0"):
        thermal_relaxation(t, t1, 120.0)


def test_bad_channels_are_refused():
    with pytest.raises(HardwareError, match="not trace preserving"):
        Channel("half", (np.eye(2) * 0.5,))
    with pytest.raises(HardwareError, match=r"amplitude damping gamma must be in \[0, 1\], but got 1.5"):
        Channel.amplitude_damping(1.5)
    with pytest.raises(HardwareError, match="Pauli channel probabilities must be 4 or 16"):
        Channel.pauli([0.5, 0.5, 0.1])
    noise = NoiseParams({}, {}, {}, gate_channels={("cz", 1): (Channel.depolarizing(0.9, 2),)})
    with pytest.raises(HardwareError, match=r"gate_channels\[\('cz', 1\)\]: depolarizing.* is not a one-qubit"):
        noise.steps([("cz", (1, 2))])


def relaxation_noise(circuit, gamma_ad: float, gamma_pd: float) -> NoiseParams:
    """Amplitude then phase damping on every qubit after every gate, differing per qubit."""
    channels = {}
    for name, qs, _ in circuit.ops:
        for q in qs:
            scale = 1 + (q % 3) / 2
            channels[(name, q)] = (Channel.amplitude_damping(gamma_ad * scale), Channel.phase_damping(gamma_pd))
    return NoiseParams({}, {}, {}, gate_channels=channels)


def braket_p1_with_relaxation(circuit, gamma_ad: float, gamma_pd: float, readout_flip: float) -> float:
    from braket.circuits import Circuit, Instruction
    from braket.circuits import gates as braket_gates
    from braket.circuits import noises
    from braket.devices import LocalSimulator

    inner = Circuit()
    for name, qs, angles in circuit.ops:
        inner.add_instruction(Instruction(getattr(braket_gates, GATE_TABLE[name].braket)(*angles), list(qs)))
        for q in qs:
            scale = 1 + (q % 3) / 2
            inner.add_instruction(Instruction(noises.AmplitudeDamping(gamma_ad * scale), q))
            inner.add_instruction(Instruction(noises.PhaseDamping(gamma_pd), q))
    inner.add_instruction(Instruction(noises.BitFlip(readout_flip), circuit.readout_qubit))
    probe = Circuit().add_verbatim_box(inner)
    probe.probability(target=[circuit.readout_qubit])
    return float(LocalSimulator("braket_dm").run(probe, shots=0).result().values[0][1])


@pytest.mark.parametrize("device_id", ["iqm-garnet", "ionq-forte-enterprise-1"])
def test_density_matrix_amplitude_and_phase_damping_match_braket(device_id):
    profile = load_profile(device_id)
    rng = np.random.default_rng(5)
    spec = QCNNSpec(4, 9, "angle")
    compiled = compile_spec(spec, rng.uniform(-3, 3, spec.n_weights), profile).bind_batch(
        rng.uniform(0, 3, (2, spec.n_features)))
    noise = relaxation_noise(compiled[0], 0.02, 0.03)
    noise = replace(noise, readout={compiled[0].readout_qubit: 0.04})
    expected = [braket_p1_with_relaxation(c, 0.02, 0.03, 0.04) for c in compiled]
    for method in ("heisenberg", "schrodinger"):
        np.testing.assert_allclose(exact_p1(compiled, noise, method=method), expected, atol=1e-9)
    # the channels matter at this precision
    assert np.abs(exact_p1(compiled, NoiseParams.noiseless()) - expected).max() > 1e-2
