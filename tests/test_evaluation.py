"""The evaluate stage: metrics and plot files from the stage, figures on the model's run, logged model and version."""

import numpy as np

from qml_ops import io, tracking
from qml_ops.evaluation import Evaluation, confusion_matrix, evaluate, record_evaluation
from qml_ops.model import QCNNClassifier
from qml_ops import project
from qml_ops.tracking import ModelRegistration
from qml_ops.training_data import load_encoded
from project_fixtures import files_under, make_project, run_stage_main, use_project


def test_evaluation_metrics_and_predictions_table():
    result = Evaluation(test_accuracy=0.75, shot_accuracies=[0.5, 1.0], shots=8,
                        confusion=confusion_matrix(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])),
                        expvals=np.array([0.5, -0.5, 0.1, 0.2]), predictions=np.array([0, 1, 0, 0]),
                        labels=np.array([0, 1, 1, 0]))
    metrics = result.metrics({"logreg": {"test_accuracy": 0.9, "n_params": 5}})
    assert metrics == {"test_accuracy": 0.75, "test_accuracy_shots_mean": 0.75, "test_accuracy_shots_std": 0.25,
                       "shots": 8, "shot_seeds": 2, "n_test": 4, "confusion_matrix": [[2, 0], [1, 1]],
                       "baselines": {"logreg": {"test_accuracy": 0.9}}}
    assert result.predictions_csv() == "actual,predicted\n0,0\n1,1\n1,0\n0,0\n"


def test_stages_write_and_the_evaluation_lands_on_run_model_and_version(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    run_stage_main("baseline")
    run_stage_main("train")
    registration = ModelRegistration.read(project.REGISTRATION_FILE)

    # the library computes and records; it writes no file outside MLflow's store
    before = files_under(root, ignore=("mlruns/",))
    model = QCNNClassifier.load(root / "models/qcnn")
    X_test, y_test = load_encoded()["test"]
    result = evaluate(model, X_test, y_test, shots=64, n_seeds=2)
    assert np.array_equal(result.predictions, model.predict(X_test))
    record_evaluation(result, result.metrics(), registration, ["zero", "one"])
    assert files_under(root, ignore=("mlruns/",)) == before

    run_stage_main("evaluate")
    numbers = io.read_json(root / "metrics/evaluate.json")  # numbers only; the rest is in the report
    assert set(numbers) == {"test_accuracy", "test_accuracy_ci_low", "test_accuracy_ci_high",
                            "test_accuracy_shots_mean", "test_accuracy_shots_std"}
    assert numbers["test_accuracy_ci_low"] <= numbers["test_accuracy"] <= numbers["test_accuracy_ci_high"]
    metrics = io.read_json(root / "reports/evaluate.json")
    assert set(metrics["baselines"]) == {"logreg", "mlp"} and metrics["shots"] == 256 and metrics["shot_seeds"] == 2
    assert metrics["n_test"] == len(y_test) and sum(map(sum, metrics["confusion_matrix"])) == len(y_test)
    rows = (root / "plots/evaluate/predictions.csv").read_text().splitlines()
    assert rows[0] == "actual,predicted" and len(rows) == 1 + len(y_test)

    client = tracking.client()
    run = client.get_run(registration.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test_accuracy"] == metrics["test_accuracy"]
    assert "baseline_logreg_test_accuracy" in run.data.metrics
    assert {"confusion_matrix.png", "evaluate.json"} <= {a.path for a in client.list_artifacts(registration.run_id)}
    logged = {m.key for m in client.get_logged_model(registration.model_id).metrics}
    assert {"test_accuracy", "test_accuracy_shots_mean", "sim_val_accuracy"} <= logged
    version = client.get_model_version(registration.name, registration.version)
    assert float(version.tags["sim.test_accuracy"]) == round(metrics["test_accuracy"], 6)
    # the model card: train's and evaluate's sections, the baselines beside the QCNN
    card = version.description
    assert card.startswith(f"# {registration.name}, version {registration.version}")
    assert f"{metrics['test_accuracy']:.4f} [{numbers['test_accuracy_ci_low']:.4f}, " in card
    assert "logreg" in card and "mlp" in card and "`candidate`" in card and "Not validated yet" in card
    assert "Alias policy" in client.get_registered_model(registration.name).description
