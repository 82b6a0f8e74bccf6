"""train → MLflow (SQLite) → registry alias; the library returns, the train stage writes."""

import pytest

from qml_ops import io, tracking
from qml_ops.config import load_params
from qml_ops.errors import ConfigError, ModelError, TrackingError
from qml_ops.model import QCNNClassifier
from qml_ops.training import TrainingResult, apply_tuned, effective_params, train_and_register
from qml_ops.training_data import load_encoded
from project_fixtures import files_under, make_project, run_stage_main, use_project


@pytest.fixture
def trained(tmp_path, monkeypatch):
    """The train stage, run in a small project; its registration (``models/qcnn/registry.json``)."""
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    run_stage_main("train")
    return root, load_params("params.yaml"), io.read_json(root / "models/qcnn/registry.json")


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
    # the stage saved the model it registered
    assert result["model_id"] == tracking.version_model_id(version) and result["experiment"] == "test"
    assert QCNNClassifier.load(root / "models/qcnn").spec.n_weights == train_json["n_weights"]


def test_training_library_returns_and_writes_nothing(tmp_path, monkeypatch):
    """train_and_register logs to MLflow and returns; the stage writes the DVC outputs."""
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    before = files_under(root)
    result = train_and_register(load_params("params.yaml"), load_encoded())
    assert files_under(root, ignore=("mlruns/",)) == before, "the library wrote a file outside MLflow's store"
    assert isinstance(result, TrainingResult) and result.registration.version == "1"
    assert result.metrics["epochs_run"] == 4 and result.model.best_epoch_ == result.metrics["best_epoch"]
    assert result.history_csv().splitlines()[0] == "epoch,loss,train_accuracy,val_accuracy,val_loss"
    assert len(result.history_csv().splitlines()) == 1 + 4
    assert tracking.client().get_run(result.registration.run_id).info.status == "FINISHED"


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
    assert not (root / "models").exists() and not (root / "metrics").exists()


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
    # what the tuned values replace is said (a `-S train.lr=...` variant would otherwise change nothing)
    from qml_ops.training import tuned_overrides

    assert tuned_overrides(params, effective) == [f"model.ansatz: {params.model.ansatz!r} -> 5",
                                                  f"train.lr: {params.train.lr!r} -> 0.02"]
    assert tuned_overrides(params, params) == []
    with pytest.raises(ConfigError, match=r"model.ansatz = 12"):
        apply_tuned(params, {"ansatz": 12})
    with pytest.raises(ConfigError, match=r"tune/best_params.json: unknown tuned key 'momentum'"):
        apply_tuned(params, {"momentum": 0.5})
