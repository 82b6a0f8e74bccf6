"""train → MLflow (SQLite) → registry alias → a fresh process loads models:/qcnn@candidate."""

import json
import subprocess
import sys

import numpy as np
import pytest

from qml_ops import io, tracking
from qml_ops.config import load_params
from qml_ops.errors import ConfigError, ModelError, TrackingError
from qml_ops.model import QCNNClassifier
from qml_ops.training import apply_tuned, effective_params, train_and_register
from qml_ops.training_data import load_encoded, load_prepared
from project_fixtures import make_project, use_project


@pytest.fixture
def trained(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    params = load_params("params.yaml")
    result = train_and_register(params, load_encoded())
    return root, params, result


def test_train_logs_run_and_registers_candidate(trained):
    root, params, result = trained
    assert (root / "mlruns" / "mlflow.db").exists()
    assert result["alias"] == "candidate" and result["version"] == "1"
    client = tracking.client()
    run = client.get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.lr"] == "0.05" and run.data.params["model.ansatz"] == "2"
    assert run.data.tags["qml_ops.stage"] == "train" and "qml_ops.version" in run.data.tags
    history = client.get_metric_history(result["run_id"], "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3, 4]
    artifacts = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"learning_curves.png", "circuit.png"} <= artifacts
    assert run.inputs.dataset_inputs, "dataset lineage (mlflow.log_input) missing"
    version = client.get_model_version_by_alias("qcnn", "candidate")
    assert str(version.version) == "1" and "sim.val_accuracy" in version.tags
    train_json = io.read_json(root / "metrics/train.json")
    assert train_json["n_weights"] == 2 * 2 + 4  # ansatz 2 (2 params) on 4 qubits: 2 layers
    assert (root / "plots/train/history.csv").read_text().startswith("epoch,loss,train_accuracy")


def test_fresh_process_loads_candidate_and_predicts_raw_images(trained):
    root, params, result = trained
    X_raw, y = load_prepared("test")
    np.save(root / "raw.npy", X_raw)
    script = (
        "import mlflow, numpy as np, json, sys\n"
        f"mlflow.set_tracking_uri({tracking.tracking_uri(root)!r})\n"
        "m = mlflow.pyfunc.load_model('models:/qcnn@candidate')\n"
        "X = np.load('raw.npy')\n"
        "print(json.dumps({'labels': np.asarray(m.predict(X)).tolist(),"
        " 'classes': list(map(str, m.predict(X, params={'output': 'class'}))),"
        " 'proba': np.asarray(m.predict(X, params={'output': 'proba'})).tolist()}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    local = QCNNClassifier.load(root / "models/qcnn")
    expected = local.predict(load_encoded()["test"][0])
    assert out["labels"] == expected.tolist()
    assert out["classes"] == [["0", "1"][i] for i in expected]
    assert np.allclose(out["proba"], local.predict_proba(load_encoded()["test"][0])[:, 1])


def test_pyfunc_rejects_wrong_shape(trained):
    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri())
    model = mlflow.pyfunc.load_model("models:/qcnn@candidate")
    with pytest.raises(Exception, match=r"(?i)shape"):
        model.predict(np.zeros((2, 5, 5)))


def test_diverged_training_is_a_failed_run_and_registers_nothing(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    params = load_params("params.yaml")
    monkeypatch.setattr(QCNNClassifier, "_loss", lambda self, z, y: (z * float("nan")).mean())
    with pytest.raises(ModelError, match="diverged"):
        train_and_register(params, load_encoded())
    client = tracking.client()
    runs = client.search_runs([client.get_experiment_by_name("test").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_registered_models() == []
    with pytest.raises(TrackingError, match=r"no model version at models:/qcnn@candidate"):
        tracking.resolve_alias("qcnn", "candidate")


def test_tuned_params_are_applied_and_validated(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    params = load_params("params.yaml").model_copy()
    params = params.model_copy(update={"train": params.train.model_copy(update={"use_tuned": True})})
    with pytest.raises(ConfigError, match="tune/best_params.json does not exist"):
        effective_params(params)
    io.write_json(root / "tune/best_params.json", {"best_params": {"ansatz": 5, "lr": 0.02}})
    effective, tuned = effective_params(params)
    assert effective.model.ansatz == 5 and effective.train.lr == 0.02 and tuned["ansatz"] == 5
    with pytest.raises(ConfigError, match=r"model.ansatz = 12"):
        apply_tuned(params, {"ansatz": 12})


def test_tracking_uri_is_absolute_and_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri() == "http://mlflow.example:5000"
