"""DVC stage `evaluate`: the trained QCNN on the test split, beside the classical baselines.

Outputs metrics/evaluate.json (test_accuracy, finite-shot mean ± std,
confusion matrix, baselines) and plots/evaluate/predictions.csv (for
`dvc plots show`'s confusion matrix). The metrics are logged on the training
run and its logged model, and tagged on the registered model version.
"""

import sys

from qml_ops import io, project, tracking
from qml_ops.config import Params
from qml_ops.evaluation import evaluate, record_evaluation
from qml_ops.model import QCNNClassifier
from qml_ops.stage import run_stage
from qml_ops.tracking import ModelRegistration
from qml_ops.training_data import class_names, load_baseline_metrics, load_encoded


def main(params: Params) -> None:
    e = params.evaluate
    model = QCNNClassifier.load(project.MODEL_DIR)
    registration = ModelRegistration.read(project.REGISTRATION_FILE)
    X_test, y_test = load_encoded()["test"]
    result = evaluate(model, X_test, y_test, shots=e.shots, n_seeds=e.shot_seeds, seed=params.train.seed)
    metrics = result.metrics(load_baseline_metrics())
    io.write_json(project.EVALUATE_METRICS, metrics)
    io.write_text(project.EVALUATE_PREDICTIONS_PLOT, result.predictions_csv())
    record_evaluation(result, metrics, registration, class_names())
    line = ", ".join(f"{n} {b['test_accuracy']:.4f}" for n, b in metrics["baselines"].items())
    print(
        f"test accuracy {result.test_accuracy:.4f} exact, {result.shots_mean:.4f} ± {result.shots_std:.4f} "
        f"with {e.shots} shots; baselines: {line or 'none'}"
    )


if __name__ == "__main__":
    sys.exit(run_stage("evaluate", main, preflight=(tracking.check_store,)))
