"""A device's calibrated noise on the logical QCNN: close to the emulator of the compiled circuit; the
classifier trains through it; train.noise_model wires it in."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.config import parse_params
from qml_ops.errors import HardwareError
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.emulator import NoiseParams, exact_p1
from qml_ops.hardware.noise_aware import device_noise, logical_noise
from qml_ops.hardware.profiles import load_profile
from qml_ops.model import QCNNClassifier
from qml_ops.simulation.engine import BatchedSimulator
from qml_ops.simulation.noisy import NoisySimulator, UnitNoise, units
from qml_ops.training import model_from_params
from project_fixtures import REPO


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(REPO))  # the repository's profiles/


@pytest.mark.parametrize("device", ["rigetti-cepheus-1-108q", "iqm-garnet"])
@pytest.mark.parametrize("ansatz", [2, 9])
def test_logical_noise_predicts_the_emulated_expectations(device, ansatz, in_repo):
    """The emulator runs the compiled circuit with LocalEmulator's channels; the logical model with
    the derived noise must land much closer to it than the noiseless simulator does."""
    spec = QCNNSpec(4, ansatz, "angle")
    profile = load_profile(device)
    noise = logical_noise(spec, profile)
    assert noise.source.startswith(device) and 0 < noise.readout_flip < 0.5
    assert all(0.5 < lam < 1 for lam in noise.two_qubit + noise.one_qubit)
    rng = np.random.default_rng(ansatz)
    weights = rng.uniform(0, 2 * np.pi, spec.n_weights)
    features = rng.uniform(0, np.pi, (24, 4))
    circuits = compile_spec(spec, weights, profile, seed=7).bind_batch(features)
    emulated = 1 - 2 * exact_p1(circuits, NoiseParams.from_profile(profile))
    w, x = torch.tensor(weights), torch.tensor(features)
    ideal = BatchedSimulator(spec, dtype=torch.complex128).expval(w, x).numpy()
    noisy = NoisySimulator(spec, noise, dtype=torch.complex128).expval(w, x).numpy()
    assert np.abs(noisy - emulated).mean() < 0.3 * np.abs(ideal - emulated).mean()


def test_more_two_qubit_gates_mean_more_noise(in_repo):
    profile = load_profile("rigetti-cepheus-1-108q")
    light, heavy = logical_noise(QCNNSpec(8, 2, "angle"), profile), logical_noise(QCNNSpec(8, 9, "angle"), profile)
    assert np.prod(heavy.two_qubit) < np.prod(light.two_qubit)
    pools = [i for i, u in enumerate(units(QCNNSpec(8, 9, "angle"))) if u.kind == "pool"]
    convs = [i for i, u in enumerate(units(QCNNSpec(8, 9, "angle"))) if u.kind == "conv"]
    assert heavy.two_qubit[pools[0]] < heavy.two_qubit[convs[0]]  # a pooling unit needs 4 CZ, an SU(4) block 3


def test_device_noise_reads_the_project_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    with pytest.raises(HardwareError, match="no calibration profile"):
        device_noise(QCNNSpec(4, 1, "angle"), "iqm-garnet")
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(REPO))
    spec = QCNNSpec(4, 1, "angle")
    assert device_noise(spec, "iqm-garnet") is device_noise(spec, "iqm-garnet")  # cached
    with pytest.raises(HardwareError, match="at most 8 qubits"):
        logical_noise(QCNNSpec(16, 1, "angle"), load_profile("iqm-garnet"))


def test_classifier_trains_through_noise_and_predicts_the_ideal_circuit():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, np.pi, (40, 4))
    y = (X[:, 0] > np.pi / 2).astype(int)
    spec = QCNNSpec(4, 2, "angle")
    noise = UnitNoise.uniform(spec, two_qubit=0.9, one_qubit=0.99, readout_flip=0.05).to_dict()
    noisy = QCNNClassifier(n_qubits=4, ansatz=2, epochs=3, batch_size=8, lr=0.1, noise=noise).fit(X, y, X, y)
    plain = QCNNClassifier(n_qubits=4, ansatz=2, epochs=3, batch_size=8, lr=0.1).fit(X, y, X, y)
    assert [r.loss for r in noisy.history_] != [r.loss for r in plain.history_], "the noise changes training"
    # predictions are those of the ideal circuit with the learned weights
    ideal = BatchedSimulator(spec).expval(torch.tensor(noisy.weights_, dtype=torch.float32),
                                         torch.tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(noisy.expval(X), ideal, atol=1e-6)
    # the noise is a hyper-parameter: cloned, saved and loaded with the model
    assert clone(noisy).get_params()["noise"] == noise
    again = QCNNClassifier.from_dict(noisy.to_dict())
    assert again.noise == noise
    np.testing.assert_allclose(again.expval(X), noisy.expval(X))


def test_train_noise_model_derives_the_device_noise(in_repo):
    params = parse_params({"encode": {"n_qubits": 4}, "model": {"ansatz": 2},
                           "train": {"noise_model": "iqm-garnet", "use_tuned": False}})
    model = model_from_params(params)
    assert model.noise == device_noise(QCNNSpec(4, 2, "angle"), "iqm-garnet").to_dict()
    assert model_from_params(parse_params({"encode": {"n_qubits": 4}})).noise is None
