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
def no_aws(monkeypatch):
    """Any attempt to reach AWS fails the test: nothing may be created."""
    import boto3

    def forbidden(*args, **kwargs):
        raise AssertionError("an AWS client was created")

    monkeypatch.setattr(boto3, "client", forbidden)
    monkeypatch.setattr(boto3, "Session", forbidden)


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
    params = parse_params({}).hardware
    passed, reasons = judge(params, {**m, "cost_per_inference_usd": 3.0})
    assert not passed and len(reasons) == 3 and "sim2real_gap 0.2500 > max_gap 0.05" in reasons[0]


def test_estimates_match_the_published_prices_per_inference():
    params = parse_params({"hardware": {"devices": ["iqm-garnet", "ionq-forte-enterprise-1"], "n_samples": 48,
                                        "shots": 512, "one_task_per_inference": True}}).hardware
    prices = estimates(params)
    assert float(prices["iqm-garnet"].cost_usd) == 50.04
    assert float(prices["ionq-forte-enterprise-1"].cost_usd) == 1980.48


def test_emulated_validation_logs_and_promotes(trained_project, no_aws):
    root, trained = trained_project
    write_params(root)
    assert run_stage("hardware", hardware_stage.main, []) == 0
    report = json.loads((root / "metrics/hardware.json").read_text())
    assert report["status"] == "ok" and report["mode"] == "emulate"
    for device in ("iqm-garnet", "ionq-forte-enterprise-1"):
        m = report["devices"][device]
        for key in ("accuracy", "sim_accuracy", "sim_shot_accuracy", "sim2real_gap", "expval_mae", "agreement",
                    "cost_usd", "cost_per_inference_usd", "latency_s_per_inference", "tasks", "shots", "n_samples",
                    "two_qubit_gates", "depth", "layout", "profile_date"):
            assert key in m, key
        assert m["n_samples"] == 6 and m["shots"] == 200
        assert 0 <= m["accuracy"] <= 1 and m["spent_usd"] == 0
    assert report["devices"]["ionq-forte-enterprise-1"]["tasks"] == 6  # no program sets on IonQ
    assert report["devices"]["iqm-garnet"]["tasks"] == 1
    assert (root / "plots/hardware/accuracy_per_device.png").exists()
    client = tracking.client()
    run = client.get_run(report["mlflow_run_id"])
    assert run.data.tags["qml_ops.train_run_id"] == trained["run_id"]
    assert "hw.iqm-garnet.accuracy" in run.data.metrics
    version = client.get_model_version("qcnn", trained["version"])
    assert version.tags["emu.iqm-garnet.run_id"] == report["mlflow_run_id"]
    # the figures sit on the registered model's logged model beside the simulator's
    logged = client.get_logged_model(trained["model_id"])
    names = {m.key for m in logged.metrics}
    assert {"sim_val_accuracy", "hw.iqm-garnet.accuracy"} <= names
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
    report = json.loads((root / "metrics/hardware.json").read_text())
    assert report["status"] == "skipped" and report["mode"] == "qpu"
    assert fragment in report["reason"]
    assert report["estimate_usd"] == float(total) and report["devices"] == {}


def test_approval_one_cent_short_is_refused(trained_project, no_aws):
    root, _ = trained_project
    params = write_params(root, mode="qpu", budget=10_000, approve=0, bucket="b")
    total = float(sum(e.cost_usd for e in estimates(params.hardware).values()))
    (root / "params.yaml").write_text((root / "params.yaml").read_text().replace(
        "approve_usd: 0", f"approve_usd: {round(total - 0.01, 2)}"))
    assert run_stage("hardware", hardware_stage.main, []) == 0
    report = json.loads((root / "metrics/hardware.json").read_text())
    assert report["status"] == "skipped" and "approve" in report["reason"]


def test_mode_off_and_missing_alias(trained_project, no_aws):
    root, _ = trained_project
    write_params(root, mode="off")
    assert run_stage("hardware", hardware_stage.main, []) == 0
    assert json.loads((root / "metrics/hardware.json").read_text())["status"] == "skipped"
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
    assert not (root / "metrics/hardware.json").exists()
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
    report = json.loads((root / "metrics/hardware.json").read_text())
    assert report["status"] == "ok"
    garnet, forte = report["devices"]["iqm-garnet"], report["devices"]["ionq-forte-enterprise-1"]
    assert garnet["status"] == "unsupported"
    assert garnet["reason"].startswith("the model needs 4 qubits; iqm-garnet has 3")
    assert "accuracy" not in garnet and "iqm-garnet" not in report["gate"]
    assert forte["status"] == "ok" and 0 <= forte["accuracy"] <= 1
    assert forte["emulator_method"] == "trajectories" and forte["emulator_trajectories"] == 8
    assert 0 < forte["emulator_p1_stderr"] <= forte["emulator_p1_stderr_max"] < 0.5
    assert "iqm-garnet                 unsupported: the model needs 4 qubits" in out
    assert "trajectories x8 (p1 stderr" in out
    run = tracking.client().get_run(report["mlflow_run_id"])
    assert run.data.params["hw.iqm-garnet.status"] == "unsupported"
    assert run.data.params["hw.ionq-forte-enterprise-1.status"] == "ok"
    assert run.data.params["hw.ionq-forte-enterprise-1.emulator_method"] == "trajectories"
    assert run.data.tags["hw.iqm-garnet.unsupported"] == garnet["reason"]
    assert "hw.ionq-forte-enterprise-1.emulator_p1_stderr" in run.data.metrics
    assert not any(k.startswith("hw.iqm-garnet.") for k in run.data.metrics)
    version = tracking.client().get_model_version("qcnn", trained["version"])
    assert "emu.ionq-forte-enterprise-1.accuracy" in version.tags and "emu.iqm-garnet.accuracy" not in version.tags
    assert (root / "plots/hardware/accuracy_per_device.png").exists()


def test_the_stage_fails_only_when_no_device_can_run(trained_project, no_aws):
    root, _ = trained_project
    write_params(root)
    with (root / "params.yaml").open("a") as f:
        f.write("  emulator_method: trajectories\n  emulator_max_qubits: 3\n")
    assert run_stage("hardware", hardware_stage.main, []) == 1
    assert not (root / "metrics/hardware.json").exists()  # nothing half-written
    runs = tracking.client().search_runs([tracking.client().get_experiment_by_name("test").experiment_id],
                                         "attributes.run_name = 'hardware-emulate'")
    assert runs and runs[0].data.params["hw.iqm-garnet.status"] == "unsupported"
    assert "hardware.emulator_max_qubits is 3" in runs[0].data.tags["hw.ionq-forte-enterprise-1.unsupported"]


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
