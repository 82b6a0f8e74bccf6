"""The pipeline against a team tracking server: `mlflow server` on PostgreSQL, artifacts proxied to S3.

The server (.ci/services.sh) keeps its database password and S3 keys in its own
environment; the clients here have neither: they reach runs, artifacts and the
registry through the server's REST API only.
"""

import json
import os
import subprocess
import sys
import uuid

import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from conftest import REPO, require_service
from pipeline_helpers import copy_repo, ran_stages, set_params
from project_fixtures import make_project

pytestmark = [pytest.mark.mlflow_server]

TINY = dict(
    prepare={"max_per_class": 40},
    encode={"n_qubits": 4},
    tune={"n_trials": 2, "space": {"ansatz": [1, 2], "lr": {"low": 0.02, "high": 0.1, "log": True},
                                   "batch_size": [16], "epochs": [2], "optimizer": ["adam"], "loss": ["mse"]}},
    evaluate={"shots": 128, "shot_seeds": 2},
    # a gate every emulated result passes, so the version is promoted and the alias can be read back
    hardware={"devices": ["iqm-garnet"], "n_samples": 4, "shots": 100,
              "gate": {"max_gap": 1.0, "min_accuracy": 0.0, "max_cost_per_inference_usd": 2.0}},
)
CLIENT_HAS_NO_S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MLFLOW_S3_ENDPOINT_URL")


def client_env(server: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QML_OPS_PROJECT_ROOT", *CLIENT_HAS_NO_S3_KEYS)}
    return {**env, "MLFLOW_TRACKING_URI": server, **extra}


@pytest.mark.dvc
@pytest.mark.slow
def test_pipeline_runs_against_the_tracking_server(tmp_path, mlflow_server, s3_endpoint, mlflow_bucket):
    tag = uuid.uuid4().hex[:8]  # the server outlives a test session: names of our own
    experiment, model_name = f"team-{tag}", f"qcnn-{tag}"
    repo = copy_repo(tmp_path / "repo")
    for env in (".venv", ".tools"):
        (repo / env).symlink_to(REPO / env)
    set_params(repo, **TINY, tracking={"experiment": experiment}, train={"registered_model": model_name})
    proc = subprocess.run([str(repo / "scripts/dvc"), "repro"], cwd=repo, capture_output=True, text=True,
                          env=client_env(mlflow_server), timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert ran_stages(proc.stdout) == {"prepare", "encode", "baseline", "tune", "train", "evaluate", "hardware"}
    assert not (repo / "mlruns" / "mlflow.db").exists(), "runs went to the local store, not the server"

    # runs and metrics, through the REST client
    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name(experiment)
    assert exp.artifact_location.startswith("mlflow-artifacts:"), "artifacts are proxied by the server"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    by_name = {}
    for run in runs:
        by_name.setdefault(run.info.run_name, []).append(run)
    tune_runs = [r for name, rs in by_name.items() if name.startswith("tune-") for r in rs]
    assert len(tune_runs) == 1 and len(by_name["train-qcnn"]) == 1 and len(by_name["hardware-emulate"]) == 1
    assert {"baseline-logreg", "baseline-mlp"} <= set(by_name)
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == tune_runs[0].info.run_id]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in trials) == [0, 1]
    assert all(r.info.status == "FINISHED" for r in runs)
    train = by_name["train-qcnn"][0]
    assert json.loads((repo / "metrics/train.json").read_text())["val_accuracy"] == \
        train.data.metrics["final_val_accuracy"]
    assert len(client.get_metric_history(train.info.run_id, "val_accuracy")) == 2  # one point per epoch

    # artifacts: listed by the server, stored as objects in its bucket
    listed = {a.path for a in client.list_artifacts(train.info.run_id)}
    assert {"learning_curves.png", "circuit.png"} <= listed
    keys = s3_endpoint.keys(mlflow_bucket, f"artifacts/{exp.experiment_id}/")
    assert f"artifacts/{exp.experiment_id}/{train.info.run_id}/artifacts/learning_curves.png" in keys
    assert any(key.endswith("/MLmodel") for key in keys), "the logged model is in the bucket"

    # the registry: the version train registered, with the aliases train and hardware set
    registry = json.loads((repo / "models/qcnn/registry.json").read_text())
    candidate = client.get_model_version_by_alias(model_name, "candidate")
    assert candidate.version == str(registry["version"]) and candidate.run_id == train.info.run_id
    validated = client.get_model_version_by_alias(model_name, "emulator-validated")
    assert validated.version == candidate.version
    assert json.loads((repo / "reports/hardware.json").read_text())["status"] == "ok"

    # the model loads back from the registry through the server (artifacts downloaded via the proxy)
    predict = (f"import json, mlflow, numpy as np; m = mlflow.pyfunc.load_model('models:/{model_name}@candidate'); "
               "X = np.load('data/prepared/test.npz')['X'][:5]; print(json.dumps([int(v) for v in m.predict(X)]))")
    load = subprocess.run([sys.executable, "-c", predict], cwd=repo, capture_output=True, text=True,
                          env=client_env(mlflow_server), timeout=300)
    assert load.returncode == 0, load.stderr[-3000:]
    predictions = json.loads(load.stdout.strip().splitlines()[-1])
    assert len(predictions) == 5 and set(predictions) <= {0, 1}

    # the server's database password (its role is the test's password role) is in no param or tag
    password = make_url(require_service("QML_OPS_TEST_PG_PASSWORD_URL", "PostgreSQL with a password role")).password
    assert not [r.info.run_name for r in runs if password in json.dumps({**r.data.params, **r.data.tags})]


@pytest.mark.postgres
def test_two_tuning_workers_log_every_trial_once(tmp_path, mlflow_server, pg_url):
    experiment = f"workers-{uuid.uuid4().hex[:8]}"
    root = make_project(tmp_path / "proj")
    text = (root / "params.yaml").read_text()
    text = text.replace("n_trials: 3", "n_trials: 6").replace("epochs: [3]", "epochs: [2]")
    text = text.replace("experiment: test", f"experiment: {experiment}")
    (root / "params.yaml").write_text(text.replace("tune:\n", f"tune:\n  storage: {pg_url}\n", 1))
    proc = subprocess.run([sys.executable, "-m", "qml_ops.cli", "tune", "--workers", "2"], cwd=root,
                          capture_output=True, text=True, env=client_env(mlflow_server, QML_OPS_PROJECT_ROOT=str(root)),
                          timeout=600)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert not (root / "mlruns" / "mlflow.db").exists()

    summary = json.loads((root / "reports/tune.json").read_text())
    study = optuna.load_study(study_name=summary["study"], storage=pg_url)
    finished = sorted(t.number for t in study.trials if t.state.is_finished())
    assert 6 <= len(finished) <= 7
    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{summary['mlflow_parent_run_id']}'",
                              max_results=1000)
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in runs) == finished, "each trial exactly once"
    assert len({r.data.tags["qml_ops.worker"] for r in runs}) == 2, "both workers ran trials"
    parent = client.get_run(summary["mlflow_parent_run_id"])
    assert parent.data.metrics["n_finished"] == summary["n_finished"]
    assert "optimization_history.png" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert np.isfinite(parent.data.metrics["best_value"])
