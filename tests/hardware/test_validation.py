"""The hardware stage: estimate first, the spend gate, emulated validation, promotion."""

import json
from pathlib import Path

import numpy as np
import pytest

from qml_ops import tracking
from qml_ops.config import load_params, parse_params
from qml_ops.errors import TrackingError
from qml_ops.hardware.validation import compare, estimates, judge
from qml_ops.training import train_and_register
from qml_ops.training_data import load_encoded
from project_fixtures import make_project, use_project

from qml_ops.stage import run_stage

REPO = Path(__file__).resolve().parents[2]


def _load_stage(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"pipelines_{name}", REPO / "pipelines" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hardware_stage = _load_stage("hardware")

HW = """
hardware:
  mode: {mode}
  devices: [iqm-garnet, ionq-forte-enterprise-1]
  n_samples: 6
  shots: 200
  s3_bucket: {bucket}
  max_budget_usd: {budget}
  approve_usd: {approve}
  gate: {{max_gap: 0.5, min_accuracy: 0.5, max_cost_per_inference_usd: 2.0}}
"""


def write_params(root, mode="emulate", budget=0, approve=0, bucket="null"):
    text = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(text + HW.format(mode=mode, budget=budget, approve=approve, bucket=bucket))
    return load_params(root / "params.yaml")


@pytest.fixture
def trained_project(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    params = load_params("params.yaml")
    result = train_and_register(params, load_encoded())
    return root, result.registration.to_dict()


def test_compare_and_judge_by_hand():
    z_sim = np.array([0.8, -0.6, 0.1, -0.2])
    counts = np.array([[90, 10], [30, 70], [40, 60], [45, 55]])  # z_hw = .8, -.4, -.2, -.1
    y = np.array([0, 1, 0, 1])
    m = compare(z_sim, counts, y, shots=100, seed=0)
    assert m["sim_accuracy"] == 1.0 and m["accuracy"] == 0.75 and m["sim2real_gap"] == 0.25
    assert m["agreement"] == 0.75
    assert np.isclose(m["expval_mae"], np.mean([0.0, 0.2, 0.3, 0.1]))
    params = parse_params({"hardware": {"gate": {"max_gap": 0.05}}}).hardware
    # on point values (no interval keys): every check fails over its (degenerate) interval
    point = {k: v for k, v in m.items() if "_ci_" not in k}
    passed, reasons = judge(params, {**point, "cost_per_inference_usd": 3.0})
    assert not passed and len(reasons) == 3 and "sim2real_gap 0.2500 > max_gap 0.05" in reasons[0]
    # on the intervals of 4 samples: the cost fails, the gap and accuracy intervals straddle their thresholds
    assert m["accuracy_ci_low"] < 0.75 < m["accuracy_ci_high"] and m["sim2real_gap_ci_low"] < 0 < 0.25
    passed, reasons = judge(params, {**m, "cost_per_inference_usd": 3.0})
    assert not passed and len(reasons) == 3 and "cost_per_inference_usd 3.0000 > max_cost" in reasons[0]
    assert "straddles max_gap 0.05" in reasons[1] and "straddles min_accuracy 0.9" in reasons[2]


def test_estimates_match_the_published_prices_per_inference():
    params = parse_params({"hardware": {"devices": ["iqm-garnet", "ionq-forte-enterprise-1"], "n_samples": 48,
                                        "shots": 512, "one_task_per_inference": True}}).hardware
    prices = estimates(params)
    assert float(prices["iqm-garnet"].cost_usd) == 50.04
    assert float(prices["ionq-forte-enterprise-1"].cost_usd) == 1980.48


def only_numbers(document) -> bool:
    """A metrics file holds numbers and booleans only (nested in dicts), no strings or lists."""
    if isinstance(document, dict):
        return all(only_numbers(v) for v in document.values())
    return isinstance(document, (int, float, bool))


def test_emulated_validation_logs_and_promotes(trained_project, no_aws):
    root, trained = trained_project
    write_params(root)
    assert run_stage("hardware", hardware_stage.main, []) == 0
    report = json.loads((root / "reports/hardware.json").read_text())
    assert report["status"] == "ok" and report["mode"] == "emulate"
    for device in ("iqm-garnet", "ionq-forte-enterprise-1"):
        m = report["devices"][device]
        for key in ("accuracy", "sim_accuracy", "sim_shot_accuracy", "sim2real_gap", "expval_mae", "agreement",
                    "cost_usd", "cost_per_inference_usd", "latency_s_per_inference", "tasks", "shots", "n_samples",
                    "two_qubit_gates", "depth", "layout", "profile_date"):
            assert key in m, key
        assert m["n_samples"] == 6 and m["shots"] == 200
        assert 0 <= m["accuracy"] <= 1 and m["spent_usd"] == 0
        assert m["verdict"] in ("pass", "fail", "inconclusive") and report["gate"][device]["verdict"] == m["verdict"]
    assert report["devices"]["ionq-forte-enterprise-1"]["tasks"] == 6  # no program sets on IonQ
    assert report["devices"]["iqm-garnet"]["tasks"] == 1
    # the metrics file: numbers only, the same figures as the report
    metrics = json.loads((root / "metrics/hardware.json").read_text())
    assert only_numbers(metrics) and set(metrics) == {"estimate_usd", "promoted", "simulator", "iqm-garnet",
                                                      "ionq-forte-enterprise-1"}
    assert metrics["iqm-garnet"]["accuracy_ci_low"] == report["devices"]["iqm-garnet"]["accuracy_ci_low"]
    table = (root / "plots/hardware/accuracy.csv").read_text().splitlines()
    assert table[0].startswith("device,backend,accuracy,accuracy_ci_low,accuracy_ci_high")
    assert [line.split(",")[0] for line in table[1:]] == ["simulator", "iqm-garnet", "ionq-forte-enterprise-1"]
    client = tracking.client()
    run = client.get_run(report["mlflow_run_id"])
    assert run.data.tags["qml_ops.train_run_id"] == trained["run_id"]
    assert "accuracy_per_device.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
    # one child run per device and one for the simulator, with the same metric and param keys
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert set(by_name) == {"simulator", "iqm-garnet", "ionq-forte-enterprise-1"}
    assert len({frozenset(c.data.metrics) for c in children}) == 1 and "accuracy_ci_low" in children[0].data.metrics
    assert len({frozenset(c.data.params) for c in children}) == 1
    assert by_name["simulator"].data.params["backend"] == "simulator"
    assert by_name["iqm-garnet"].data.params["backend"] == "emulator"
    assert by_name["iqm-garnet"].data.tags["gate.verdict"] == report["gate"]["iqm-garnet"]["verdict"]
    assert "samples.json" in {a.path for a in client.list_artifacts(by_name["iqm-garnet"].info.run_id)}
    # a shared UI view lists the children grouped by device, in the chart view
    key = f"hardware-{run.info.run_id}"
    assert report["mlflow_comparison"] == (f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs?"
                                           f"viewStateShareKey={key}&compareRunsMode=CHART")
    view = json.loads(client.get_experiment(run.info.experiment_id).tags[f"mlflow.sharedViewState.{key}"])
    assert view["searchFilter"] == f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    assert view["groupBy"]["groupByKeys"] == [{"mode": "param", "groupByData": "device"}]
    version = client.get_model_version("qcnn", trained["version"])
    assert version.tags["emu.iqm-garnet.run_id"] == report["mlflow_run_id"]
    # the figures sit on the registered model's logged model beside the simulator's, one row per run
    logged = client.get_logged_model(trained["model_id"])
    names = {m.key for m in logged.metrics}
    assert {"sim_val_accuracy", "accuracy", "accuracy_ci_low", "sim2real_gap_ci_high"} <= names
    assert {c.info.run_id for c in children} <= {m.run_id for m in logged.metrics if m.key == "accuracy"}
    # the model card names every device
    assert all(device in version.description for device in ("simulator", "iqm-garnet", "ionq-forte-enterprise-1"))
    if report["promoted"]:
        assert report["promoted"]["alias"] == "emulator-validated"  # never "hardware-validated" from an emulator
        assert tracking.resolve_alias("qcnn", "emulator-validated").version == version.version
    with pytest.raises(TrackingError):
        tracking.resolve_alias("qcnn", "hardware-validated")


@pytest.mark.parametrize(
    "budget, approve, fragment",
    [
        (0, 0, "exceeds hardware.max_budget_usd"),
        (1000, 0, "hardware.approve_usd"),
        (1000, 0.07, "hardware.approve_usd"),  # estimate here is $36.26 + $0.00145 x 1200 ... one short below
    ],
)
def test_qpu_mode_without_budget_and_approval_creates_nothing(trained_project, no_aws, budget, approve, fragment):
    root, _ = trained_project
    params = write_params(root, mode="qpu", budget=budget, approve=approve, bucket="my-bucket")
    total = sum(e.cost_usd for e in estimates(params.hardware).values())
    assert run_stage("hardware", hardware_stage.main, []) == 0  # skipped, so `dvc repro` goes on
    report = json.loads((root / "reports/hardware.json").read_text())
    assert report["status"] == "skipped" and report["mode"] == "qpu"
    assert fragment in report["reason"]
    assert report["estimate_usd"] == float(total) and report["devices"] == {}
    assert json.loads((root / "metrics/hardware.json").read_text()) == {"estimate_usd": float(total), "promoted": False}


def test_approval_one_cent_short_is_refused(trained_project, no_aws):
    root, _ = trained_project
    params = write_params(root, mode="qpu", budget=10_000, approve=0, bucket="b")
    total = float(sum(e.cost_usd for e in estimates(params.hardware).values()))
    (root / "params.yaml").write_text((root / "params.yaml").read_text().replace(
        "approve_usd: 0", f"approve_usd: {round(total - 0.01, 2)}"))
    assert run_stage("hardware", hardware_stage.main, []) == 0
    report = json.loads((root / "reports/hardware.json").read_text())
    assert report["status"] == "skipped" and "approve" in report["reason"]


def test_mode_off_and_missing_alias(trained_project, no_aws):
    root, _ = trained_project
    write_params(root, mode="off")
    assert run_stage("hardware", hardware_stage.main, []) == 0
    assert json.loads((root / "reports/hardware.json").read_text())["status"] == "skipped"
    text = (root / "params.yaml").read_text().replace("mode: off", "mode: emulate") + "  model_alias: nope\n"
    (root / "params.yaml").write_text(text)
    assert run_stage("hardware", hardware_stage.main, []) == 1


def test_refuses_a_model_trained_on_other_data(tmp_path, monkeypatch, no_aws):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    lock = "schema: '2.0'\nstages:\n  encode:\n    cmd: x\n    outs:\n    - path: data/encoded\n      md5: {}.dir\n"
    (root / "dvc.lock").write_text(lock.format("aaaa"))
    train_and_register(load_params("params.yaml"), load_encoded())
    write_params(root)
    (root / "dvc.lock").write_text(lock.format("bbbb"))  # another dataset version in this workspace
    assert run_stage("hardware", hardware_stage.main, []) == 1
    assert not (root / "metrics/hardware.json").exists() and not (root / "reports/hardware.json").exists()
    (root / "dvc.lock").write_text(lock.format("aaaa"))
    assert run_stage("hardware", hardware_stage.main, []) == 0


def test_a_device_that_cannot_run_the_model_does_not_sink_the_stage(trained_project, no_aws, monkeypatch, capsys):
    """Garnet here has 3 working qubits (its real calibration cut down), the model needs 4: Garnet is
    reported unsupported with the reason, Forte is validated (by trajectories), the stage completes."""
    from dataclasses import replace

    from qml_ops.hardware import reporting
    from qml_ops.hardware.profiles import load_profile

    root, trained = trained_project
    write_params(root)
    with (root / "params.yaml").open("a") as f:
        f.write("  emulator_method: trajectories\n  trajectories: 8\n")

    def fewer_qubits(device_id):
        profile = load_profile(device_id)
        return replace(profile, qubits=profile.qubits[:3]) if device_id == "iqm-garnet" else profile

    monkeypatch.setattr(reporting, "load_profile", fewer_qubits)
    assert run_stage("hardware", hardware_stage.main, []) == 0
    out = capsys.readouterr().out
    report = json.loads((root / "reports/hardware.json").read_text())
    assert report["status"] == "ok"
    garnet, forte = report["devices"]["iqm-garnet"], report["devices"]["ionq-forte-enterprise-1"]
    assert garnet["status"] == "unsupported"
    assert garnet["reason"].startswith("the model needs 4 qubits; iqm-garnet has 3")
    assert "accuracy" not in garnet and "iqm-garnet" not in report["gate"]
    assert forte["status"] == "ok" and 0 <= forte["accuracy"] <= 1
    assert forte["emulator_method"] == "trajectories" and forte["emulator_trajectories"] == 8
    assert 0 < forte["emulator_p1_stderr"] <= forte["emulator_p1_stderr_max"] < 0.5
    # the emulator's own error widens the intervals (never narrows them)
    assert forte["accuracy_ci_low"] <= forte["accuracy"] <= forte["accuracy_ci_high"]
    assert forte["emulator_fragile_samples"] >= 0
    metrics = json.loads((root / "metrics/hardware.json").read_text())
    assert "iqm-garnet" not in metrics and "accuracy" in metrics["ionq-forte-enterprise-1"]
    garnet_line = next(line for line in out.splitlines() if line.strip().startswith("iqm-garnet ") and "unsupported" in line)
    assert " - " in garnet_line and "unsupported: the model needs 4 qubits" in garnet_line
    assert "ionq-forte-enterprise-1 trajectories ×8" in out
    parent = tracking.client().get_run(report["mlflow_run_id"])
    children = tracking.client().search_runs([parent.info.experiment_id],
                                             f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert by_name["iqm-garnet"].data.tags["gate.verdict"] == "unsupported"
    assert by_name["iqm-garnet"].data.tags["hardware.unsupported"] == garnet["reason"]
    assert not by_name["iqm-garnet"].data.metrics
    assert by_name["ionq-forte-enterprise-1"].data.params["emulator_method"] == "trajectories"
    assert by_name["simulator"].data.params["emulator_method"] == "n/a"
    version = tracking.client().get_model_version("qcnn", trained["version"])
    assert "emu.ionq-forte-enterprise-1.accuracy" in version.tags and "emu.iqm-garnet.accuracy" not in version.tags
    card = version.description
    assert "| iqm-garnet | – |" in card and "emulated (trajectories ×8)" in card


def test_the_stage_fails_only_when_no_device_can_run(trained_project, no_aws):
    root, _ = trained_project
    write_params(root)
    with (root / "params.yaml").open("a") as f:
        f.write("  emulator_method: trajectories\n  emulator_max_qubits: 3\n")
    assert run_stage("hardware", hardware_stage.main, []) == 1
    assert not (root / "metrics/hardware.json").exists()  # nothing half-written
    runs = tracking.client().search_runs([tracking.client().get_experiment_by_name("test").experiment_id],
                                         "attributes.run_name = 'hardware-emulate'")
    children = tracking.client().search_runs([runs[0].info.experiment_id],
                                             f"tags.mlflow.parentRunId = '{runs[0].info.run_id}'")
    reasons = {c.info.run_name: c.data.tags.get("hardware.unsupported", "") for c in children}
    assert reasons["iqm-garnet"] and "hardware.emulator_max_qubits is 3" in reasons["ionq-forte-enterprise-1"]


def test_emulator_settings_are_checked_with_the_params():
    from qml_ops.errors import ConfigError
    from qml_ops.hardware.emulator.settings import DEFAULT_MAX_QUBITS, DEFAULT_TRAJECTORIES

    hw = parse_params({}).hardware
    assert (hw.emulator_method, hw.trajectories, hw.emulator_device, hw.emulator_max_qubits) == (
        "auto", DEFAULT_TRAJECTORIES, "auto", DEFAULT_MAX_QUBITS)  # one set of defaults
    with pytest.raises(ConfigError, match="hardware.emulator_method"):
        parse_params({"hardware": {"emulator": "braket", "emulator_method": "trajectories"}})
    with pytest.raises(ConfigError, match="hardware.trajectories = 1"):
        parse_params({"hardware": {"trajectories": 1}})


def test_the_emulators_own_error_widens_the_intervals_by_the_samples_it_could_flip():
    from qml_ops.hardware.validation import compare, fold_emulator_error
    from qml_ops.intervals import wilson_interval

    # 10 samples, 100 shots: p1 = 0.52 (fragile with stderr 0.02) on two, clear on the rest
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0])
    p1 = np.array([0.52, 0.52, 0.9, 0.9, 0.1, 0.1, 0.9, 0.1, 0.9, 0.1])
    counts = np.stack([np.round((1 - p1) * 100), np.round(p1 * 100)], axis=1).astype(np.int64)
    z_sim = np.where(y == 1, -0.9, 0.9)
    exact = compare(z_sim, counts, y, 100, 0)
    folded = fold_emulator_error(dict(exact), counts, np.full(10, 0.02), y)
    # sample 0 is right by a hair (counts down), sample 1 wrong by a hair (counts up)
    assert folded["emulator_fragile_samples"] == 2
    assert folded["accuracy_ci_low"] == pytest.approx(wilson_interval(8, 10)[0])
    assert folded["accuracy_ci_high"] == pytest.approx(max(exact["accuracy_ci_high"], wilson_interval(10, 10)[1]))
    assert folded["sim2real_gap_ci_low"] == pytest.approx(exact["sim2real_gap_ci_low"] - 0.1)
    assert folded["sim2real_gap_ci_high"] == pytest.approx(exact["sim2real_gap_ci_high"] + 0.1)
    # an exact emulator (stderr 0) and a QPU (None) leave the intervals alone
    for stderr in (np.zeros(10), None):
        same = fold_emulator_error(dict(exact), counts, stderr, y)
        assert {k: same[k] for k in exact} == exact and same["emulator_fragile_samples"] == 0
