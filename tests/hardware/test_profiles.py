"""Calibration profiles: every real snapshot, the saved format, and emulator parity."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from qml_ops.errors import HardwareError
from qml_ops.hardware.profiles import (
    FORMAT,
    SNAPSHOTS_DIR,
    decode_json_document,
    default_profile_path,
    list_snapshots,
    newest_snapshot,
    newest_snapshots,
    load_profile,
    parse_device_properties,
    read_snapshot,
    save_profile,
    to_device_properties,
)

REPO = Path(__file__).resolve().parents[2]
CALIBRATION = REPO / SNAPSHOTS_DIR  # the project's own copy of the Braket device documents
SNAPSHOTS = sorted(CALIBRATION.glob("*.json"))
NEWEST = {
    "rigetti-ankaa-3": "rigetti-ankaa-3_2026-04-01.json",
    "rigetti-cepheus-1-108q": "rigetti-cepheus-1-108q_2026-05-05.json",
    "iqm-garnet": "iqm-garnet_2026-05-05.json",
    "iqm-emerald": "iqm-emerald_2025-11-06.json",
    "ionq-forte-enterprise-1": "ionq-forte-enterprise-1_2026-05-03.json",
}


def raw(name: str) -> dict:
    """A snapshot as a dict, decoding JSON encoded twice."""
    data = json.loads((CALIBRATION / name).read_text())
    while isinstance(data, str):
        data = json.loads(data)
    return data


def raw_text(name: str) -> str:
    return json.dumps(raw(name))


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name)
def test_every_snapshot_parses(path):
    doc = raw(path.name)
    profile = read_snapshot(path)
    device_id, date = path.stem.split("_")
    assert (profile.device_id, profile.snapshot_date, profile.source) == (device_id, date, path.name)
    assert profile.n_qubits == doc["paradigm"]["qubitCount"]
    assert profile.native_gates == [g.lower() for g in doc["paradigm"]["nativeGateSet"]]
    qubits = set(profile.qubits)
    assert all(a in qubits and b in qubits for a, b in profile.edges)
    assert set(profile.one_qubit_fidelity) == set(profile.readout_fidelity) == qubits
    for value in [*profile.one_qubit_fidelity.values(), *profile.readout_fidelity.values()]:
        assert 0 <= value <= 1
    for gates in profile.two_qubit_fidelity.values():
        assert all(0 <= f <= 1 for f in gates.values())
    assert profile.two_qubit_native_fidelity(), "every device has a native 2-qubit gate"


def test_double_encoded_files_are_handled():
    doubles = [p for p in SNAPSHOTS if isinstance(json.loads(p.read_text()), str)]
    assert doubles, "the snapshot folder has double-encoded documents"
    for path in doubles:
        assert parse_device_properties(path.read_text(), source=path.name).qubits


def test_iqm_keeps_physical_labels_and_simultaneous_rb():
    profile = read_snapshot(CALIBRATION / NEWEST["iqm-garnet"])
    assert profile.qubits == list(range(1, 21))
    assert profile.one_qubit_fidelity_type == "SIMULTANEOUS_RANDOMIZED_BENCHMARKING"
    entry = raw(NEWEST["iqm-garnet"])["standardized"]["oneQubitProperties"]["4"]
    by_type = {f["fidelityType"]["name"]: f["fidelity"] for f in entry["oneQubitFidelity"]}
    assert profile.one_qubit_fidelity[4] == by_type["SIMULTANEOUS_RANDOMIZED_BENCHMARKING"]
    assert profile.readout_fidelity[4] == by_type["READOUT"]
    assert set(profile.two_qubit_fidelity["1-2"]) == {"cz", "two_qubit_clifford"}


def test_rigetti_prefers_randomized_benchmarking():
    profile = read_snapshot(CALIBRATION / NEWEST["rigetti-cepheus-1-108q"])
    entry = raw(NEWEST["rigetti-cepheus-1-108q"])["standardized"]["oneQubitProperties"]["73"]
    by_type = {f["fidelityType"]["name"]: f["fidelity"] for f in entry["oneQubitFidelity"]}
    assert by_type["RANDOMIZED_BENCHMARKING"] != by_type["SIMULTANEOUS_RANDOMIZED_BENCHMARKING"]
    assert profile.one_qubit_fidelity[73] == by_type["RANDOMIZED_BENCHMARKING"]


def test_ionq_applies_device_averages_all_to_all():
    profile = read_snapshot(CALIBRATION / NEWEST["ionq-forte-enterprise-1"])
    assert profile.fully_connected and profile.qubits == list(range(36))
    assert len(profile.edges) == len(profile.two_qubit_fidelity) == 36 * 35 // 2
    assert set(profile.one_qubit_fidelity.values()) == {0.9999}
    assert set(profile.readout_fidelity.values()) == {0.9955}
    assert profile.two_qubit_fidelity["3-17"] == {"zz": 0.9925}


def test_fully_connected_flag_without_graph():
    doc = raw(NEWEST["iqm-garnet"])
    doc["paradigm"]["connectivity"] = {"fullyConnected": True, "connectivityGraph": {}}
    profile = parse_device_properties(doc, source="x.json")
    assert profile.fully_connected and len(profile.edges) == 20 * 19 // 2


def test_directed_graph_is_preserved():
    name = "iqm-garnet_2025-07-06.json"
    profile = read_snapshot(CALIBRATION / name)
    assert profile.directed
    graph = raw(name)["paradigm"]["connectivity"]["connectivityGraph"]
    rebuilt = to_device_properties(profile)["paradigm"]["connectivity"]["connectivityGraph"]
    assert {k: sorted(v) for k, v in rebuilt.items()} == {k: sorted(v) for k, v in graph.items()}


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["standardized"]["oneQubitProperties"]["7"].update(
        oneQubitFidelity=[f for f in d["standardized"]["oneQubitProperties"]["7"]["oneQubitFidelity"]
                          if f["fidelityType"]["name"] != "READOUT"]),
     "qubit 7 has no READOUT fidelity"),
    (lambda d: d["standardized"]["oneQubitProperties"]["7"].update(oneQubitFidelity=[]),
     "qubit 7 has no RANDOMIZED_BENCHMARKING or SIMULTANEOUS_RANDOMIZED_BENCHMARKING"),
    (lambda d: d.pop("standardized"), "missing 'standardized'"),
    (lambda d: d["paradigm"].pop("nativeGateSet"), "missing 'paradigm.nativeGateSet'"),
    (lambda d: d["standardized"].pop("twoQubitProperties"), "twoQubitProperties"),
    (lambda d: d.update(braketSchemaHeader={"name": "x", "version": "1"}), "braketSchemaHeader"),
    (lambda d: d["paradigm"].update(qubitCount=21), "qubitCount is 21"),
])
def test_missing_entries_name_file_and_entry(mutate, expected):
    doc = copy.deepcopy(raw(NEWEST["iqm-garnet"]))
    mutate(doc)
    with pytest.raises(HardwareError) as err:
        parse_device_properties(doc, device_id="iqm-garnet", source="/some/where/broken.json")
    assert "broken.json" in str(err.value) and expected in str(err.value)


def test_ionq_missing_average_is_named():
    doc = raw(NEWEST["ionq-forte-enterprise-1"])
    del doc["provider"]["fidelity"]["spam"]
    with pytest.raises(HardwareError, match=r"ionq\.json: missing 'provider\.fidelity\.spam\.mean'"):
        parse_device_properties(doc, source="ionq.json")


def test_bad_json_and_unknown_device():
    with pytest.raises(HardwareError, match="f.json: not valid JSON"):
        parse_device_properties("{nope", source="f.json")
    with pytest.raises(HardwareError, match="must be a JSON object"):
        parse_device_properties("[1, 2]")


def test_device_is_inferred_from_contents_or_named():
    doc = raw(NEWEST["iqm-emerald"])
    assert parse_device_properties(doc, source="latest.json").device_id == "iqm-emerald"
    doc["paradigm"]["qubitCount"] = 5
    with pytest.raises(HardwareError, match="--device"):
        parse_device_properties(doc, source="latest.json")


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name)
def test_save_load_round_trip(tmp_path, path):
    profile = read_snapshot(path)
    out = save_profile(profile, tmp_path / "p.json")
    saved = json.loads(out.read_text())
    assert saved["format"] == FORMAT
    assert load_profile(out) == profile
    assert out.stat().st_size < path.stat().st_size / 3  # compact, derived: not a copy


def test_load_rejects_other_formats(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "qml-ops-profile/99"}))
    with pytest.raises(HardwareError, match="qml-ops-profile/99.*not supported"):
        load_profile(path)
    path.write_text(json.dumps({"format": FORMAT, "device_id": "x"}))
    with pytest.raises(HardwareError, match="missing snapshot_date"):
        load_profile(path)


def test_missing_default_profile_says_how_to_derive(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    with pytest.raises(HardwareError, match="devices derive SNAPSHOT.json --device iqm-garnet"):
        load_profile("iqm-garnet")


def test_project_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    assert default_profile_path("iqm-garnet") == tmp_path / "profiles" / "iqm-garnet.json"
    monkeypatch.delenv("QML_OPS_PROJECT_ROOT")
    (tmp_path / "proj" / "a" / "b").mkdir(parents=True)
    (tmp_path / "proj" / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path / "proj" / "a" / "b")
    assert default_profile_path("iqm-garnet") == tmp_path / "proj" / "profiles" / "iqm-garnet.json"
    with pytest.raises(HardwareError, match="not a valid profile name"):
        default_profile_path("../etc")


@pytest.mark.parametrize("device_id", sorted(NEWEST))
def test_repository_profiles_come_from_the_newest_snapshot(device_id, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(REPO))
    profile = load_profile(device_id)
    assert profile.source == NEWEST[device_id]
    assert profile == read_snapshot(CALIBRATION / NEWEST[device_id])


def test_repository_profiles_are_byte_identical_to_a_fresh_derivation(tmp_path):
    """profiles/<device>.json is exactly what the newest snapshot derives to."""
    newest = newest_snapshots(REPO)
    assert {device: path.name for device, path in newest.items()} == NEWEST
    for device_id, path in newest.items():
        fresh = save_profile(read_snapshot(path), tmp_path / f"{device_id}.json")
        assert fresh.read_bytes() == (REPO / "profiles" / f"{device_id}.json").read_bytes()


def test_snapshot_folder_keeps_every_date():
    names = [p.name for p in list_snapshots(root=REPO)]
    assert names == sorted(names) and len(names) == 7
    assert [p.name for p in list_snapshots("iqm-garnet", REPO)] == [
        "iqm-garnet_2025-07-06.json", "iqm-garnet_2026-05-05.json"]
    assert [p.name for p in list_snapshots("rigetti-ankaa-3", REPO)] == [
        "rigetti-ankaa-3_2025-06-30.json", "rigetti-ankaa-3_2026-04-01.json"]
    assert newest_snapshot("iqm-garnet", REPO).name == NEWEST["iqm-garnet"]


def test_snapshot_folder_resolves_from_the_project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    folder = tmp_path / "profiles" / "snapshots"
    folder.mkdir(parents=True)
    for name in ("iqm-garnet_2025-07-06.json", "iqm-garnet_2026-05-05.json", "notes.json"):
        (folder / name).write_text("{}")
    assert [p.name for p in list_snapshots()] == [
        "iqm-garnet_2025-07-06.json", "iqm-garnet_2026-05-05.json"]
    assert newest_snapshots() == {"iqm-garnet": folder / "iqm-garnet_2026-05-05.json"}
    with pytest.raises(HardwareError) as err:
        newest_snapshot("iqm-emerald")
    assert str(folder) in str(err.value) and "iqm-emerald_YYYY-MM-DD.json" in str(err.value)


def test_decode_json_document():
    doc = {"a": [1, 2]}
    assert decode_json_document(doc) is doc
    assert decode_json_document(json.dumps(doc)) == doc
    assert decode_json_document(json.dumps(json.dumps(doc)).encode()) == doc
    with pytest.raises(HardwareError, match=r"caps\.json: not valid JSON"):
        decode_json_document('{"a": ', "caps.json")
    with pytest.raises(HardwareError, match=r"caps\.json: the document must be a JSON object, got list"):
        decode_json_document(json.dumps(json.dumps([1])), "caps.json")


def test_no_code_reads_data_outside_the_repository():
    """Tests, library, stages and benchmarks read the project's own files only."""
    needles = ("QML_OPS_" + "SHARED", "../" + "shared", '"' + 'shared" /', "/work/" + "shared")
    offenders = [
        f"{path.relative_to(REPO)}: {needle}"
        for folder in ("tests", "qml_ops", "pipelines", "benchmarks")
        for path in sorted((REPO / folder).rglob("*.py"))
        for needle in needles
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


# ------------------------------------------------------------- emulator parity

def _noise(emulator) -> list[str]:
    return sorted(
        json.dumps(i.to_dict(), sort_keys=True, default=str)
        for i in emulator.noise_model.instructions
    )


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name)
def test_emulator_from_profile_has_the_snapshot_noise(path, tmp_path):
    local_emulator = pytest.importorskip("braket.emulation.local_emulator")
    from qml_ops.hardware.profiles import build_local_emulator

    original = local_emulator.LocalEmulator.from_json(raw_text(path.name))
    profile = load_profile(save_profile(read_snapshot(path), tmp_path / "p.json"))
    derived = build_local_emulator(profile)
    assert _noise(derived) == _noise(original)
    assert len(_noise(original)) > 3 * profile.n_qubits - 10


CIRCUITS = {
    "iqm-garnet_2026-05-05.json": lambda C, pi: C().prx(1, pi, 0).cz(1, 2).prx(2, pi / 2, 0.3),
    "iqm-garnet_2025-07-06.json": lambda C, pi: C().prx(1, pi, 0).cz(1, 2).prx(2, pi / 2, 0.3),
    "rigetti-ankaa-3_2026-04-01.json": lambda C, pi: C().rx(0, pi).iswap(0, 1).rz(1, 0.3),
    "ionq-forte-enterprise-1_2026-05-03.json": lambda C, pi: C().gpi(0, 0.0).zz(0, 5, 0.4).gpi2(5, 0.1),
}


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_emulators_give_equal_results_on_a_verbatim_circuit(name):
    local_emulator = pytest.importorskip("braket.emulation.local_emulator")
    import math

    from braket.circuits import Circuit

    from qml_ops.hardware.profiles import build_local_emulator

    body = CIRCUITS[name](Circuit, math.pi)
    qubits = sorted({int(q) for ins in body.instructions for q in ins.target})
    circuit = Circuit().add_verbatim_box(body).probability(qubits)
    original = local_emulator.LocalEmulator.from_json(raw_text(name))
    derived = build_local_emulator(read_snapshot(CALIBRATION / name))
    expected = original.run(circuit, shots=0).result().values[0]
    got = derived.run(circuit, shots=0).result().values[0]
    assert list(got) == list(expected)
    assert max(expected) < 0.999  # the noise is there: an ideal circuit gives a 0/1 entry


def test_emulator_enforces_connectivity_and_native_gates():
    pytest.importorskip("braket.emulation.local_emulator")
    from braket.circuits import Circuit

    from qml_ops.hardware.profiles import build_local_emulator

    emulator = build_local_emulator(read_snapshot(CALIBRATION / NEWEST["iqm-garnet"]))
    with pytest.raises(ValueError, match="not connected"):
        emulator.run(Circuit().add_verbatim_box(Circuit().cz(1, 3)), shots=10)
    with pytest.raises(ValueError):
        emulator.run(Circuit().add_verbatim_box(Circuit().h(1)), shots=10)


def test_device_properties_document_shape():
    doc = to_device_properties(read_snapshot(CALIBRATION / NEWEST["iqm-garnet"]))
    program = doc["action"]["braket.ir.openqasm.program"]
    assert "verbatim" in program["supportedPragmas"]
    assert set(doc["paradigm"]["nativeGateSet"]) >= {"prx", "cz"}
    assert program["supportedOperations"] == doc["paradigm"]["nativeGateSet"]
    assert doc["action"]["braket.ir.openqasm.program_set"]["maximumExecutables"] == 100
    assert doc["service"]["shotsRange"] == [1, 20000]
    assert sorted(doc["standardized"]["oneQubitProperties"], key=int) == [str(q) for q in range(1, 21)]
    ionq = to_device_properties(read_snapshot(CALIBRATION / NEWEST["ionq-forte-enterprise-1"]))
    assert ionq["provider"]["fidelity"] == {
        "1Q": {"mean": 0.9999}, "2Q": {"mean": 0.9925}, "spam": {"mean": 0.9955}
    }
