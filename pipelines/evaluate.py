"""DVC stage `evaluate`: the trained QCNN on the test split, beside the classical baselines.

Outputs metrics/evaluate.json (test accuracy with its 95% interval, finite-shot
mean ± std: numbers only), reports/evaluate.json (also shots, confusion matrix,
baselines) and plots/evaluate/predictions.csv (for `dvc plots show`'s confusion
matrix). The figures are logged on the training run and its logged model,
tagged on the registered model version, and added to its model card.
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
    report = result.report(load_baseline_metrics())
    io.write_json(project.EVALUATE_METRICS, result.metrics_file())
    io.write_json(project.EVALUATE_REPORT, report)
    io.write_text(project.EVALUATE_PREDICTIONS_PLOT, result.predictions_csv())
    record_evaluation(result, report, registration, class_names())
    interval = result.test_interval
    line = ", ".join(f"{n} {b['test_accuracy']:.4f}" for n, b in report["baselines"].items())
    print(
        f"test accuracy {result.test_accuracy:.4f} [95% CI {interval.low:.4f}, {interval.high:.4f}] exact "
        f"({len(y_test)} samples), {result.shots_mean:.4f} ± {result.shots_std:.4f} with {e.shots} shots; "
        f"baselines: {line or 'none'}"
    )


if __name__ == "__main__":
    sys.exit(run_stage("evaluate", main, preflight=(tracking.check_store,)))
