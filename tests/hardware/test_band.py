"""The predicted accuracy band: bounds from both sides, reduction to today's model, coverage record."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import HardwareError
from qml_ops.hardware.band import (
    TRANSMON_DURATIONS, Durations, ScheduledNoise, correct_probabilities, device_durations,
    pessimistic_calibration, poisson_binomial_quantiles, predict_band,
)
from qml_ops.hardware.band_coverage import FORMAT, load_coverage, record_coverage
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.emulator import NoiseParams, exact_p1, run_emulated
from qml_ops.hardware.profiles import build_local_emulator, load_profile
from qml_ops.hardware.validation import DeviceResult, band_fields

from tests.hardware.test_emulator import braket_exact_p1


def compiled_for(device_id: str, n_samples: int = 24, n_qubits: int = 4, seed: int = 3):
    profile = load_profile(device_id)
    rng = np.random.default_rng(seed)
    spec = QCNNSpec(n_qubits, 9, "angle")
    circuits = compile_spec(spec, rng.uniform(-3, 3, spec.n_weights), profile, seed=0).bind_batch(
        rng.uniform(0, 3, (n_samples, spec.n_features)))
    return profile, circuits


def noiseless_labels(circuits) -> np.ndarray:
    """Labels the noiseless circuit predicts: noise can then only cost accuracy on average."""
    return (exact_p1(circuits, NoiseParams.noiseless()) > 0.5).astype(np.int64)


def infinite_coherence(profile) -> ScheduledNoise:
    base = NoiseParams.from_profile(profile)
    inf = dict.fromkeys(profile.qubits, math.inf)
    return ScheduledNoise(base.one_qubit, base.two_qubit, base.readout, t1_s=inf, t2_s=inf,
                          durations=TRANSMON_DURATIONS)


@pytest.mark.parametrize("device_id", ["iqm-garnet", "ionq-forte-enterprise-1", "rigetti-cepheus-1-108q"])
def test_optimistic_emulation_lies_inside_the_band(device_id):
    profile, circuits = compiled_for(device_id, n_samples=40)
    y = noiseless_labels(circuits)
    y[:6] = 1 - y[:6]  # some samples the model gets wrong
    sim_accuracy = float(np.mean(noiseless_labels(circuits) == y))
    band = predict_band(circuits, profile, y, sim_accuracy=sim_accuracy, shots=300)
    assert 0 <= band.accuracy_low <= band.accuracy_high <= 1
    assert band.accuracy_low <= band.optimistic_accuracy <= band.accuracy_high
    assert band.accuracy_low <= band.pessimistic_accuracy <= band.accuracy_high
    assert math.isclose(band.gap_low, sim_accuracy - band.accuracy_high)
    assert math.isclose(band.gap_high, sim_accuracy - band.accuracy_low)
    # the emulator is the optimistic model sampled with shots: inside the 95% band, bar the odd seed
    covered = []
    for seed in range(40):
        result = run_emulated(circuits, profile, shots=300, seed=seed, method="density_matrix")
        covered.append(band.covers(float(np.mean((result.counts[:, 1] > 150).astype(np.int64) == y))))
    assert sum(covered) >= 34, (covered, band)  # ~96% expected; 34/40 leaves room for chance
    expected = float(correct_probabilities(result.p1, y, 300).mean())  # the emulation's expected accuracy
    assert math.isclose(expected, band.optimistic_accuracy, rel_tol=1e-9)
    metrics = band_fields(band, None, {"accuracy": band.accuracy_high + 0.05, "sim_accuracy": sim_accuracy})
    assert metrics["band_covered"] == 0 and metrics["predicted_accuracy_low"] == round(band.accuracy_low, 6)


@pytest.mark.parametrize("device_id", ["iqm-garnet", "ionq-forte-enterprise-1"])
def test_pessimistic_model_with_infinite_coherence_is_todays_model(device_id):
    profile, circuits = compiled_for(device_id, n_samples=3)
    today = exact_p1(circuits, NoiseParams.from_profile(profile))
    scheduled = infinite_coherence(profile)
    np.testing.assert_allclose(exact_p1(circuits, scheduled), today, atol=1e-12)
    # and Braket's LocalEmulator agrees (small size: braket_dm per circuit)
    emulator = build_local_emulator(profile)
    expected = [braket_exact_p1(c.circuit, emulator) for c in circuits[:2]]
    np.testing.assert_allclose(exact_p1(circuits[:2], scheduled), expected, atol=1e-9)
    # finite T1/T2 change the probabilities: the schedule is not a no-op
    finite = replace(scheduled, t1_s=dict.fromkeys(profile.qubits, 2e-6), t2_s=dict.fromkeys(profile.qubits, 1e-6))
    assert np.abs(exact_p1(circuits, finite) - today).max() > 1e-3


def test_schedule_relaxes_idle_qubits_for_their_wait():
    d = Durations(one_qubit_s=1.0, two_qubit_s=3.0, readout_s=2.0, source="test")
    noise = ScheduledNoise({}, {}, {}, t1_s={0: 10.0, 1: 10.0}, t2_s={0: 20.0, 1: 20.0}, durations=d)
    structure = [("prx", (0,)), ("prx", (0,)), ("cz", (0, 1)), ("rz", (1,))]
    steps = noise.steps(structure)
    gammas: dict[int, list[float]] = {0: [], 1: []}
    for step in steps:
        if step[0] == "noise" and step[1].name.startswith("amplitude_damping"):
            gammas[step[2][0]].append(float(step[1].name.split("(")[1].rstrip(")")))
    as_time = {q: [round(-10.0 * math.log(1 - g), 3) for g in gs] for q, gs in gammas.items()}
    # qubit 0: two 1 s gates, the 3 s cz, then readout 2 s; qubit 1: waits 2 s, cz 3 s, rz virtual, readout
    assert as_time[0] == [1.0, 1.0, 3.0, 2.0]
    assert as_time[1] == [2.0, 3.0, 2.0]
    # T2 = 2·T1: no pure dephasing
    assert not any(s[0] == "noise" and s[1].name.startswith("phase") and "(0)" not in s[1].name for s in steps)


def test_shorter_t1_lowers_the_pessimistic_accuracy():
    profile, circuits = compiled_for("iqm-garnet", n_samples=24)
    y = noiseless_labels(circuits)
    kwargs = dict(sim_accuracy=1.0, shots=200, snapshots=[])
    base = predict_band(circuits, profile, y, **kwargs)
    short = replace(profile, t1_s={q: v / 20 for q, v in profile.t1_s.items()},
                    t2_s={q: v / 20 for q, v in profile.t2_s.items()})
    worse = predict_band(circuits, short, y, **kwargs)
    assert worse.pessimistic_accuracy < base.pessimistic_accuracy <= base.optimistic_accuracy
    assert worse.optimistic_accuracy == base.optimistic_accuracy  # RB-only model: blind to T1/T2
    assert worse.accuracy_low <= base.accuracy_low


def test_pessimistic_calibration_uses_standard_errors_and_older_snapshots():
    from qml_ops.hardware.profiles import list_snapshots
    from qml_ops.hardware.band import _document

    profile = load_profile("iqm-garnet")
    paths = list_snapshots("iqm-garnet")
    own = next(p for p in paths if p.name == profile.source)
    older = [p for p in paths if p != own]
    qubits = sorted(profile.qubits)[:4]
    alone = pessimistic_calibration(profile, qubits, document=_document(own))
    for q in qubits:
        assert alone.profile.one_qubit_fidelity[q] < profile.one_qubit_fidelity[q]
        assert alone.profile.t1_s[q] < profile.t1_s[q]
        e01, e10 = alone.readout_asymmetry[q]
        assert math.isclose((e01 + e10) / 2, 1 - alone.profile.readout_fidelity[q])
    both = pessimistic_calibration(profile, qubits, document=_document(own), snapshots=older)
    assert both.snapshots == [p.name for p in older]
    assert all(both.profile.one_qubit_fidelity[q] <= alone.profile.one_qubit_fidelity[q] for q in qubits)
    assert device_durations(load_profile("ionq-forte-enterprise-1"), {"provider": {"timing": {
        "1Q": 6.3e-05, "2Q": 0.00065, "readout": 0.00025}}}).two_qubit_s == 0.00065


def test_missing_coherence_times_fall_back_to_the_median_or_fail_clearly():
    profile, circuits = compiled_for("iqm-garnet", n_samples=4)
    y = noiseless_labels(circuits)
    q = circuits[0].readout_qubit
    partial = replace(profile, t1_s={k: v for k, v in profile.t1_s.items() if k != q})
    band = predict_band(circuits, partial, y, sim_accuracy=1.0, shots=100, snapshots=[])
    assert any(f"qubit {q}: no T1" in note and "median" in note for note in band.notes)
    assert band.metrics()["predicted_band"]["notes"] == band.notes
    none = replace(profile, t1_s={}, t2_s={})
    with pytest.raises(HardwareError, match=r"no T1 \(key t1_s\)"):
        predict_band(circuits, none, y, sim_accuracy=1.0, shots=100, snapshots=[])


def test_shot_statistics_are_exact():
    # one shot: P(correct) = P(read the label); ties (even shots, half ones) predict 0
    np.testing.assert_allclose(correct_probabilities(np.array([0.3, 0.3]), np.array([1, 0]), 1), [0.3, 0.7])
    np.testing.assert_allclose(correct_probabilities(np.array([0.5]), np.array([0]), 2), [0.75])
    # counts 0, 1, 2 with probabilities 1/4, 1/2, 1/4: the 30% and 70% quantiles are 1, the 20% one 0
    assert poisson_binomial_quantiles(np.array([0.5, 0.5]), (0.2, 0.3, 0.7, 0.8)) == [0, 1, 1, 2]
    assert poisson_binomial_quantiles(np.ones(5), (0.025, 0.975)) == [5, 5]


def _qpu_result(device: str, accuracy: float, covered: bool) -> DeviceResult:
    metrics = {"accuracy": accuracy, "predicted_accuracy_low": 0.7, "predicted_accuracy_high": 0.9,
               "band_covered": int(covered), "profile_date": "2026-05-05", "predicted_band": {"k_sigma": 2.0}}
    return DeviceResult(device, metrics, True)


def test_coverage_record_counts_each_paid_run_once(tmp_path):
    path = tmp_path / "hardware" / "band_coverage.json"
    assert record_coverage(_qpu_result("iqm-garnet", 0.8, True), run_key="v1", run_id="r1", model_version="1",
                           path=path) == 1.0
    assert record_coverage(_qpu_result("iqm-garnet", 0.6, False), run_key="v2", run_id="r2", model_version="2",
                           path=path) == 0.5
    # the same paid run reported again (a resume): replaced, not counted twice
    assert record_coverage(_qpu_result("iqm-garnet", 0.6, False), run_key="v2", run_id="r3", model_version="2",
                           path=path) == 0.5
    assert record_coverage(_qpu_result("ionq-forte-enterprise-1", 0.85, True), run_key="v2", run_id="r3",
                           model_version="2", path=path) == 1.0
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT
    garnet = doc["devices"]["iqm-garnet"]
    assert (garnet["runs"], garnet["covered"]) == (2, 1)
    assert [e["run_id"] for e in garnet["entries"]] == ["r1", "r3"]
    assert not list(path.parent.glob(".*tmp"))  # atomic write left nothing behind
    # a device without a prediction (trivial band [0, 1], covered by construction) records nothing
    unpredicted = {"accuracy": 0.9, "sim_accuracy": 1.0}
    unpredicted.update(band_fields(None, "no T1 (key t1_s)", unpredicted))
    assert unpredicted["band_covered"] == 1 and unpredicted["predicted_accuracy_high"] == 1.0
    assert record_coverage(DeviceResult("iqm-emerald", unpredicted, True), run_key="v3", run_id="r4",
                           model_version="3", path=path) is None
    assert "iqm-emerald" not in load_coverage(path)["devices"]


def test_a_broken_coverage_record_is_an_error_and_left_intact(tmp_path):
    path = tmp_path / "band_coverage.json"
    path.write_text('{"devices": []}')
    with pytest.raises(HardwareError, match="format must be 'qml-ops-band-coverage/1'"):
        record_coverage(_qpu_result("iqm-garnet", 0.8, True), run_key="v1", run_id="r1", model_version="1",
                        path=path)
    assert path.read_text() == '{"devices": []}'
