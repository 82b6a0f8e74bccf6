"""Hardware evidence where users look, end to end: the pipeline against a real `mlflow server`
(PostgreSQL backend, artifacts proxied to S3), checked through the MLflow client.

One child run per device plus the simulator under the hardware run, with identical metric and
param keys and intervals that contain their point values; the registry version's description (the
model card) names every device; the logged model is named after the registered model and linked
to its training datasets; the metrics files hold numbers only.
"""

import json
import subprocess
import uuid

import pytest
from mlflow.tracking import MlflowClient

from conftest import REPO
from pipeline_helpers import copy_repo, ran_stages, set_params
from test_mlflow_server import TINY, client_env

from qml_ops.hardware.evidence import RUN_METRIC_KEYS, RUN_PARAM_KEYS

pytestmark = [pytest.mark.mlflow_server, pytest.mark.dvc, pytest.mark.slow]

DEVICES = ["iqm-garnet", "ionq-forte-enterprise-1"]


def numbers_only(value) -> bool:
    """Numbers and booleans only, in what DVC tabulates (it skips lists: the tune stage's
    Pareto front is one, by design)."""
    if isinstance(value, dict):
        return all(numbers_only(v) for v in value.values())
    if isinstance(value, list):
        return True
    return isinstance(value, (int, float, bool))


def test_hardware_evidence_on_the_tracking_server(tmp_path, mlflow_server, s3_endpoint, mlflow_bucket):
    tag = uuid.uuid4().hex[:8]
    experiment, model_name = f"evidence-{tag}", f"qcnn-{tag}"
    repo = copy_repo(tmp_path / "repo")
    for env in (".venv", ".tools"):
        (repo / env).symlink_to(REPO / env)
    hardware = {**TINY["hardware"], "devices": DEVICES, "n_samples": 8}
    set_params(repo, **{**TINY, "hardware": hardware}, tracking={"experiment": experiment},
               train={"registered_model": model_name})
    proc = subprocess.run([str(repo / "scripts/dvc"), "repro"], cwd=repo, capture_output=True, text=True,
                          env=client_env(mlflow_server), timeout=1200)
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "hardware" in ran_stages(proc.stdout)
    # the terminal ends with the table: the simulator and each device, accuracy [interval], verdict
    table = proc.stdout[proc.stdout.index("hardware: gate (on 95% intervals)"):]
    assert all(f"\n  {name} " in table for name in ["simulator", *DEVICES])

    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name(experiment)
    parents = client.search_runs([exp.experiment_id], "attributes.run_name = 'hardware-emulate'")
    assert len(parents) == 1
    parent = parents[0]
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert sorted(by_name) == sorted(["simulator", *DEVICES]) and len(children) == len(DEVICES) + 1
    # identical metric and param keys on every child: one bar chart per metric compares them all
    assert {frozenset(c.data.metrics) for c in children} == {frozenset(RUN_METRIC_KEYS)}
    assert {frozenset(c.data.params) for c in children} == {frozenset(RUN_PARAM_KEYS)}
    for child in children:
        m = child.data.metrics
        assert m["accuracy_ci_low"] <= m["accuracy"] <= m["accuracy_ci_high"], child.info.run_name
        assert m["sim2real_gap_ci_low"] <= m["sim2real_gap"] <= m["sim2real_gap_ci_high"], child.info.run_name
        assert m["n_samples"] == 8
    sim = by_name["simulator"].data
    assert sim.params["backend"] == "simulator" and sim.metrics["sim2real_gap_ci_high"] == 0 == sim.metrics["cost_usd"]
    for device in DEVICES:
        run = by_name[device]
        assert run.data.params["backend"] == "emulator" and run.data.params["device"] == device
        assert run.data.tags["gate.verdict"] in ("pass", "fail", "inconclusive") and run.data.tags["gate.reason"]
        assert "samples.json" in {a.path for a in client.list_artifacts(run.info.run_id)}  # per-sample table
    # the comparison view (grouped by device, chart view) is shared on the experiment, at the server's address
    report = json.loads((repo / "reports/hardware.json").read_text())
    assert report["mlflow_comparison"].startswith(f"{mlflow_server.rstrip('/')}/#/experiments/{exp.experiment_id}/runs?")
    assert f"mlflow.sharedViewState.hardware-{parent.info.run_id}" in client.get_experiment(exp.experiment_id).tags
    # the parent holds no per-device metric names (no chart per device and metric)
    assert not [k for k in parent.data.metrics if any(d in k for d in DEVICES)]

    # the registry: model card on the version, alias policy on the model, the logged model's name and datasets
    version = client.get_model_version_by_alias(model_name, "candidate")
    card = version.description
    assert card.startswith(f"# {model_name}, version {version.version}")
    for name in ["simulator", *DEVICES]:
        assert f"| {name} |" in card, name
    assert "| QCNN, exact simulator |" in card and "logreg" in card and "`candidate`" in card
    assert "Alias policy" in client.get_registered_model(model_name).description
    model_id = json.loads((repo / "models/qcnn/registry.json").read_text())["model_id"]
    assert model_id in version.source  # models:/m-... (the REST API leaves version.model_id empty)
    logged = client.get_logged_model(model_id)
    assert logged.name == model_name
    linked = {m.key: m.dataset_name for m in logged.metrics if m.key in ("sim_train_accuracy", "sim_val_accuracy")}
    assert linked == {"sim_train_accuracy": "encoded-train", "sim_val_accuracy": "encoded-val"}
    assert {c.info.run_id for c in children} <= {m.run_id for m in logged.metrics if m.key == "accuracy"}

    # the tuning trials as a table on the study run
    study = json.loads((repo / "reports/tune.json").read_text())
    assert "trials.json" in {a.path for a in client.list_artifacts(study["mlflow_parent_run_id"])}

    # metrics files: numbers only; the report holds the rest and agrees with MLflow
    for path in sorted((repo / "metrics").glob("*.json")):
        assert numbers_only(json.loads(path.read_text())), path.name
    assert isinstance(json.loads((repo / "metrics/tune.json").read_text())["pareto"], list)
    metrics = json.loads((repo / "metrics/hardware.json").read_text())
    for device in DEVICES:
        assert metrics[device]["accuracy_ci_low"] == by_name[device].data.metrics["accuracy_ci_low"]
        assert report["gate"][device]["verdict"] == by_name[device].data.tags["gate.verdict"]
        assert report["devices"][device]["mlflow_run_id"] == by_name[device].info.run_id
