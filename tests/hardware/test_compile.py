"""The hardware compiler: equivalence to the logical QCNN, native gates, LocalEmulator validation.

Run with ``-s`` to see the two-qubit gate count and depth per device.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qml_ops.circuits.ir import Gate, w, x
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import HardwareError
from qml_ops.hardware.compile import (
    DeviceModel,
    compile_model,
    compile_spec,
    native_ops_to_braket,
    zyz_angles,
)
from qml_ops.hardware.devices import list_devices
from qml_ops.hardware.profiles import build_local_emulator, load_profile

# every QPU of the catalogue, retired ones included (their profiles still compile)
DEVICES = [d.id for d in list_devices() if d.is_qpu]
NATIVE = {
    "rigetti-ankaa-3": {"rx", "rz", "iswap"},
    "rigetti-cepheus-1-108q": {"rx", "rz", "cz"},
    "iqm-garnet": {"prx", "cz"},
    "iqm-emerald": {"prx", "cz"},
    "ionq-forte-enterprise-1": {"gpi", "gpi2", "zz"},
}
CASES = [(9, "angle"), (4, "angle"), (2, "dense_angle")]


@pytest.fixture(scope="module")
def profiles():
    return {d: load_profile(d) for d in DEVICES}


def readout_p1(compiled) -> float:
    """P(readout = 1) from a plain statevector of the Braket circuit (Braket's own
    gate matrices: independent of the compiler's synthesis formulas)."""
    from braket.circuits.compiler_directives import EndVerbatimBox, StartVerbatimBox
    from braket.circuits.measure import Measure

    qubits = sorted({int(q) for ins in compiled.circuit.instructions for q in ins.target})
    axis = {q: i for i, q in enumerate(qubits)}
    psi = np.zeros((2,) * len(qubits), dtype=complex)
    psi[(0,) * len(qubits)] = 1
    for ins in compiled.circuit.instructions:
        if isinstance(ins.operator, (StartVerbatimBox, EndVerbatimBox, Measure)):
            continue
        t = [axis[int(q)] for q in ins.target]
        k = len(t)
        u = ins.operator.to_matrix().reshape((2,) * (2 * k))
        psi = np.moveaxis(np.tensordot(u, psi, axes=(list(range(k, 2 * k)), t)), list(range(k)), t)
    return float(np.sum(np.abs(np.take(psi, 1, axis=axis[compiled.readout_qubit])) ** 2))


def reference_p1(spec, weights, features) -> np.ndarray:
    import torch

    from qml_ops.circuits.reference import build_qnode

    z = build_qnode(spec)(torch.tensor(weights), torch.tensor(features))
    return (1 - z.detach().numpy()) / 2


@pytest.fixture(scope="module")
def cases():
    rng = np.random.default_rng(2024)
    out = {}
    for ansatz, encoding in CASES:
        spec = QCNNSpec(8, ansatz, encoding)
        weights = rng.uniform(-math.pi, math.pi, spec.n_weights)
        features = rng.uniform(0, math.pi, (3, spec.n_features))
        out[(ansatz, encoding)] = (spec, weights, features, reference_p1(spec, weights, features))
    return out


STATS: dict[str, dict] = {}


@pytest.mark.parametrize("device_id", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"ansatz{c[0]}-{c[1]}")
def test_compiled_circuit_matches_the_logical_qcnn(device_id, case, profiles, cases):
    spec, weights, features, expected = cases[case]
    profile = profiles[device_id]
    compiled = compile_spec(spec, weights, profile).bind_batch(features)

    got = np.array([readout_p1(c) for c in compiled])
    np.testing.assert_allclose(got, expected, atol=1e-6)

    device = DeviceModel.from_profile(profile)
    listed = set(device.edges)
    first = compiled[0]
    for name, qubits, angles in first.ops:
        assert name in NATIVE[device_id]
        assert all(q in profile.qubits for q in qubits)
        if len(qubits) == 2:
            assert qubits in listed, f"{qubits} is not a coupler as the device lists it"
        if name == "rx":  # Rigetti drives only ±π/2 and ±π
            assert min(abs(abs(angles[0]) - v) for v in (math.pi / 2, math.pi)) < 1e-12
    # every sample shares one gate sequence (angles differ only in the encoding)
    assert len({tuple((n, q) for n, q, _ in c.ops) for c in compiled}) == 1
    assert first.readout_qubit == first.final_layout[spec.readout_wire]
    assert sorted(first.initial_layout) == list(range(8))
    STATS.setdefault(device_id, {})[f"ansatz{case[0]}-{case[1]}"] = (
        first.two_qubit_gate_count, first.depth, len(first.qubits))


@pytest.mark.parametrize("device_id", DEVICES)
def test_local_emulator_accepts_and_runs_the_circuit(device_id, profiles, cases):
    spec, weights, features, _ = cases[(9, "angle")]
    compiled = compile_spec(spec, weights, profiles[device_id]).bind(features[0])
    emulator = build_local_emulator(profiles[device_id])
    emulator.validate(compiled.circuit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = emulator.run(compiled.circuit, shots=20).result().measurement_counts
    assert sum(counts.values()) == 20 and set(counts) <= {"0", "1"}
    print(f"\n{device_id}: 2q gates {compiled.two_qubit_gate_count}, depth {compiled.depth}, "
          f"qubits {compiled.qubits}, readout {compiled.readout_qubit}")


def test_amplitude_encoding_is_compiled_per_sample():
    profile = load_profile("iqm-garnet")
    rng = np.random.default_rng(3)
    spec = QCNNSpec(4, 9, "amplitude")
    weights = rng.uniform(-math.pi, math.pi, spec.n_weights)
    features = rng.uniform(0, 1, (2, spec.n_features))
    compiled = compile_spec(spec, weights, profile).bind_batch(features)
    got = np.array([readout_p1(c) for c in compiled])
    np.testing.assert_allclose(got, reference_p1(spec, weights, features), atol=1e-6)
    build_local_emulator(profile).validate(compiled[0].circuit)


def test_compilation_is_deterministic_and_transpiles_once(profiles, cases):
    spec, weights, features, _ = cases[(9, "angle")]
    profile = profiles["rigetti-cepheus-1-108q"]
    a = compile_spec(spec, weights, profile).bind(features[0])
    b = compile_spec(spec, weights, profile).bind(features[0])
    assert a.ops == b.ops and a.initial_layout == b.initial_layout

    model = compile_spec(spec, weights, profile)  # transpiled once, bound per sample
    first, second = model.bind(features[0]), model.bind(features[1])
    assert first.initial_layout == second.initial_layout
    assert first.ops != second.ops
    assert model.device.target is model.device.target  # the device's Target is built once


def test_native_ops_become_the_braket_gates_of_the_table():
    ops = [("prx", (1,), (0.3, -0.2)), ("cz", (1, 2), ()), ("gpi", (2,), (0.1,)),
           ("gpi2", (2,), (0.4,)), ("zz", (1, 2), (0.5,)), ("iswap", (1, 2), ()),
           ("rx", (1,), (math.pi / 2,)), ("rz", (2,), (0.7,))]
    circuit = native_ops_to_braket(ops, readout_qubit=2)
    gates = [ins for ins in circuit.instructions if type(ins.operator).__name__ in {
        "PRx", "CZ", "GPi", "GPi2", "ZZ", "ISwap", "Rx", "Rz"}]
    assert [type(ins.operator).__name__ for ins in gates] == [
        "PRx", "CZ", "GPi", "GPi2", "ZZ", "ISwap", "Rx", "Rz"]
    assert [tuple(int(q) for q in ins.target) for ins in gates] == [qs for _, qs, _ in ops]
    assert (gates[0].operator.angle_1, gates[0].operator.angle_2) == (0.3, -0.2)
    assert gates[4].operator.angle == 0.5


def test_layout_avoids_uncalibrated_qubits(profiles, cases):
    """Ankaa-3's newest snapshot reports fidelity 0.5 on some qubits: none are used."""
    profile = profiles["rigetti-ankaa-3"]
    bad = {q for q, f in profile.one_qubit_fidelity.items() if f <= 0.5}
    spec, weights, features, _ = cases[(9, "angle")]
    compiled = compile_spec(spec, weights, profile).bind(features[0])
    assert not set(compiled.qubits) & bad


def test_zyz_angles_reconstruct_random_unitaries():
    from scipy.stats import unitary_group

    u = unitary_group.rvs(2, size=20, random_state=1)
    theta, phi, lam = zyz_angles(u)

    def rz(a):
        return np.array([[np.exp(-0.5j * a), 0], [0, np.exp(0.5j * a)]])

    def ry(a):
        return np.array([[np.cos(a / 2), -np.sin(a / 2)], [np.sin(a / 2), np.cos(a / 2)]])

    for k in range(20):
        v = rz(phi[k]) @ ry(theta[k]) @ rz(lam[k])
        overlap = abs(np.trace(v.conj().T @ u[k])) / 2
        assert overlap == pytest.approx(1.0, abs=1e-12)


def test_errors_name_the_problem(profiles):
    gates = [Gate("ry", (0,), (x(0),)), Gate("cnot", (0, 1)), Gate("ry", (0,), (x(1),))]
    with pytest.raises(HardwareError, match="reads features after other gates"):
        compile_model(gates, [], profiles["iqm-garnet"], n_qubits=2, readout_wire=0)
    with pytest.raises(HardwareError, match="readout_wire must be in 0..1"):
        compile_model([Gate("ry", (0,), (w(0),))], [0.1], profiles["iqm-garnet"],
                      n_qubits=2, readout_wire=5)


def test_report_gate_counts():
    """Summary table (visible with -s) of the equivalence cases compiled above."""
    if not STATS:
        pytest.skip("run together with the equivalence tests")
    print("\ndevice                     case              2q  depth  qubits")
    for device_id, rows in STATS.items():
        for case, (n2q, depth, nq) in rows.items():
            print(f"{device_id:26s} {case:16s} {n2q:4d} {depth:6d} {nq:6d}")


DEFAULT_DEVICES = ["rigetti-cepheus-1-108q", "iqm-garnet", "iqm-emerald", "ionq-forte-enterprise-1"]


@pytest.mark.parametrize("device_id", DEFAULT_DEVICES)
def test_sixteen_qubit_layouts_follow_calibration_and_compute_the_model(device_id, profiles):
    """What users train (16 qubits) on the real coupling maps: native gates on calibrated couplers
    chosen among the best, and the compiled circuit computes the logical QCNN (noiseless
    trajectory emulator vs the torch simulator, both exact here)."""
    import torch

    from qml_ops.hardware.emulator import NoiseParams, trajectory_p1
    from qml_ops.simulation import BatchedSimulator

    profile = profiles[device_id]
    device = DeviceModel.from_profile(profile)
    rng = np.random.default_rng(16)
    spec = QCNNSpec(16, 9, "angle")
    weights = rng.uniform(-math.pi, math.pi, spec.n_weights)
    features = rng.uniform(0, math.pi, (2, spec.n_features))
    circuits = compile_spec(spec, weights, profile).bind_batch(features)
    c = circuits[0]
    assert {name for name, _, _ in c.ops} <= NATIVE[device_id]
    couplers = [qs for _, qs, _ in c.ops if len(qs) == 2]
    assert len(couplers) == c.two_qubit_gate_count and set(couplers) <= set(device.edges)
    assert 16 <= len(c.qubits) <= 18 and set(c.initial_layout.values()) <= set(c.qubits)
    used = np.mean([device.two_qubit_error[e] for e in couplers])
    assert used <= np.mean(list(device.two_qubit_error.values())) + 1e-12  # no worse than a random coupler
    STATS.setdefault(device_id, {})["16q ansatz9"] = (c.two_qubit_gate_count, c.depth, len(c.qubits))
    z = BatchedSimulator(spec, dtype=torch.complex128).expval(torch.as_tensor(weights), torch.as_tensor(features))
    ideal = trajectory_p1(circuits, NoiseParams.noiseless(), trajectories=2, dtype=torch.complex128)
    np.testing.assert_allclose(ideal.p1, (1 - z.numpy()) / 2, atol=1e-9)
