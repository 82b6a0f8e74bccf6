"""The noisy QCNN simulator (noise-aware training) against PennyLane's default.mixed, the
noiseless simulator, and finite differences."""

import itertools

import numpy as np
import pytest
import torch

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.circuits.reference import apply_gates
from qml_ops.errors import ModelError
from qml_ops.simulation.engine import BatchedSimulator
from qml_ops.simulation.noisy import NoisySimulator, UnitNoise, units


def random_noise(spec: QCNNSpec, seed: int = 0) -> UnitNoise:
    """Different λ on every unit and wire (strong enough to matter), and a readout flip."""
    rng = np.random.default_rng(seed)
    return UnitNoise(tuple(rng.uniform(0.75, 0.98, len(units(spec)))), tuple(rng.uniform(0.9, 0.995, spec.n_qubits)),
                     float(rng.uniform(0.01, 0.08)), "test")


def pennylane_noisy(spec: QCNNSpec, noise: UnitNoise):
    """The same channels on PennyLane's density-matrix device, one operation at a time."""
    import pennylane as qml

    paulis = [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1, -1])]

    def two_qubit_depolarizing(lam: float) -> list[np.ndarray]:
        p = 15 * (1 - lam) / 16  # Braket's TwoQubitDepolarizing(p): λ = 1 - 16p/15
        kraus = [np.sqrt(1 - p) * np.eye(4)]
        kraus += [np.sqrt(p / 15) * np.kron(a, b) for a, b in itertools.product(paulis, repeat=2)][1:]
        return kraus

    def one_qubit(lam: float, wire: int) -> None:
        qml.DepolarizingChannel(3 * (1 - lam) / 4, wires=wire)  # λ = 1 - 4p/3

    dev = qml.device("default.mixed", wires=spec.n_qubits)

    @qml.qnode(dev, interface="autograd", diff_method=None)
    def circuit(weights, features):
        if spec.encoding == "amplitude":
            qml.AmplitudeEmbedding(features, wires=range(spec.n_qubits), normalize=True)
        apply_gates(spec.encoding_gates(), weights, features)
        for w in range(spec.n_qubits):
            one_qubit(noise.one_qubit[w], w)
        for i, unit in enumerate(units(spec)):
            apply_gates(list(unit.gates), weights, features)
            qml.QubitChannel(two_qubit_depolarizing(noise.two_qubit[i]), wires=list(unit.wires))
            for w in unit.wires:
                one_qubit(noise.one_qubit[w], w)
        qml.BitFlip(noise.readout_flip, wires=spec.readout_wire)
        return qml.expval(qml.PauliZ(spec.readout_wire))

    return circuit


@pytest.mark.parametrize("ansatz, encoding", [(1, "angle"), (4, "dense_angle"), (9, "angle"), (7, "amplitude"),
                                              (6, "dense_angle")])
def test_noisy_expval_matches_pennylane_default_mixed(ansatz, encoding):
    spec = QCNNSpec(4, ansatz, encoding)
    noise = random_noise(spec, seed=ansatz)
    rng = np.random.default_rng(ansatz)
    weights = rng.uniform(0, 2 * np.pi, spec.n_weights)
    features = rng.uniform(0, np.pi, (3, spec.n_features))
    reference = np.array([pennylane_noisy(spec, noise)(weights, row) for row in features])
    sim = NoisySimulator(spec, noise, dtype=torch.complex128)
    ours = sim.expval(torch.tensor(weights), torch.tensor(features)).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-10)
    noiseless = BatchedSimulator(spec, dtype=torch.complex128).expval(torch.tensor(weights), torch.tensor(features))
    assert np.abs(ours - noiseless.numpy()).max() > 1e-3, "the noise must change the outputs"


@pytest.mark.parametrize("encoding", ["angle", "dense_angle", "amplitude"])
@pytest.mark.parametrize("n_qubits", [4, 8])
def test_without_noise_it_is_the_noiseless_simulator(encoding, n_qubits):
    for ansatz in (2, 9):
        spec = QCNNSpec(n_qubits, ansatz, encoding)
        g = torch.Generator().manual_seed(n_qubits + ansatz)
        weights = torch.rand(spec.n_weights, generator=g, dtype=torch.float64) * 6
        features = torch.rand(4, spec.n_features, generator=g, dtype=torch.float64) * 3
        ideal = BatchedSimulator(spec, dtype=torch.complex128).expval(weights, features)
        noisy = NoisySimulator(spec, UnitNoise.uniform(spec), dtype=torch.complex128).expval(weights, features)
        torch.testing.assert_close(noisy, ideal, atol=1e-10, rtol=0)


def test_readout_flip_alone_scales_the_expectation():
    spec = QCNNSpec(4, 3, "angle")
    weights, features = torch.rand(spec.n_weights, dtype=torch.float64) * 6, torch.rand(5, 4, dtype=torch.float64)
    ideal = BatchedSimulator(spec, dtype=torch.complex128).expval(weights, features)
    flipped = NoisySimulator(spec, UnitNoise.uniform(spec, readout_flip=0.1), dtype=torch.complex128)
    torch.testing.assert_close(flipped.expval(weights, features), 0.8 * ideal, atol=1e-12, rtol=0)


@pytest.mark.parametrize("ansatz, encoding", [(9, "angle"), (5, "dense_angle"), (2, "amplitude")])
def test_gradients_agree_with_finite_differences(ansatz, encoding):
    spec = QCNNSpec(4, ansatz, encoding)
    sim = NoisySimulator(spec, random_noise(spec, seed=3), dtype=torch.complex128)
    g = torch.Generator().manual_seed(ansatz)
    weights = (torch.rand(spec.n_weights, generator=g, dtype=torch.float64) * 6).requires_grad_(True)
    features = torch.rand(6, spec.n_features, generator=g, dtype=torch.float64) * 3
    target = torch.tensor([1.0, -1, 1, -1, -1, 1], dtype=torch.float64)

    def loss(w):
        return torch.mean((sim.expval(w, features) - target) ** 2)

    loss(weights).backward()
    eps = 1e-6
    numeric = torch.zeros(spec.n_weights, dtype=torch.float64)
    with torch.no_grad():
        for i in range(spec.n_weights):
            step = torch.zeros_like(weights)
            step[i] = eps
            numeric[i] = (loss(weights + step) - loss(weights - step)) / (2 * eps)
    torch.testing.assert_close(weights.grad, numeric, atol=1e-7, rtol=1e-6)
    assert numeric.abs().max() > 1e-3


def test_complex64_is_close_to_complex128():
    spec = QCNNSpec(8, 9, "angle")
    noise = random_noise(spec)
    weights, features = torch.rand(spec.n_weights, dtype=torch.float64) * 6, torch.rand(16, 8, dtype=torch.float64)
    exact = NoisySimulator(spec, noise, dtype=torch.complex128).expval(weights, features)
    fast = NoisySimulator(spec, noise, dtype=torch.complex64).expval(weights.float(), features.float())
    torch.testing.assert_close(fast.double(), exact, atol=2e-5, rtol=0)


def test_bad_noise_and_register_sizes_are_refused():
    spec = QCNNSpec(4, 1, "angle")
    with pytest.raises(ModelError, match="at most 8 qubits"):
        NoisySimulator(QCNNSpec(16, 1, "angle"), UnitNoise.uniform(QCNNSpec(16, 1, "angle")))
    with pytest.raises(ModelError, match="units and 4 wires"):
        NoisySimulator(spec, UnitNoise((0.9,), (0.9,) * 4))
    with pytest.raises(ModelError, match=r"in \[0, 1\]"):
        NoisySimulator(spec, UnitNoise.uniform(spec, two_qubit=1.5))
    with pytest.raises(ModelError, match="readout_flip"):
        NoisySimulator(spec, UnitNoise.uniform(spec, readout_flip=0.7))
    noise = random_noise(spec)
    assert UnitNoise.from_dict(noise.to_dict()) == noise


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    spec = QCNNSpec(8, 9, "angle")
    noise = random_noise(spec)
    weights, features = torch.rand(spec.n_weights, dtype=torch.float64) * 6, torch.rand(32, 8, dtype=torch.float64)
    values = []
    for device in ("cpu", "cuda"):
        w = weights.to(device).requires_grad_(True)
        z = NoisySimulator(spec, noise, device=device, dtype=torch.complex128).expval(w, features.to(device))
        z.sum().backward()
        values.append((z.detach().cpu(), w.grad.cpu()))
    torch.testing.assert_close(values[1][0], values[0][0], atol=1e-12, rtol=0)
    torch.testing.assert_close(values[1][1], values[0][1], atol=1e-10, rtol=0)
