"""DVC stage `evaluate`: the trained QCNN on the test split, beside the classical baselines.

Outputs metrics/evaluate.json (test_accuracy, finite-shot mean ± std,
confusion matrix, baselines) and plots/evaluate/predictions.csv (for
`dvc plots show`'s confusion matrix). The metrics are logged on the training
run and its logged model, and tagged on the registered model version.
"""

import sys
from pathlib import Path

from qml_ops import io, plots, project, tracking
from qml_ops.config import Params
from qml_ops.evaluation import evaluate
from qml_ops.model import QCNNClassifier
from qml_ops.stage import run_stage
from qml_ops.training_data import class_names, load_encoded


def main(params: Params) -> None:
    model = QCNNClassifier.load(project.MODEL_DIR)
    X_test, y_test = load_encoded()["test"]
    e = params.evaluate
    result = evaluate(model, X_test, y_test, shots=e.shots, n_seeds=e.shot_seeds, seed=params.train.seed)
    baselines = io.read_json(project.METRICS_DIR / "baseline.json") if (project.METRICS_DIR / "baseline.json").exists() else {}
    metrics = {
        "test_accuracy": result.test_accuracy,
        "test_accuracy_shots_mean": result.shots_mean,
        "test_accuracy_shots_std": result.shots_std,
        "shots": e.shots,
        "shot_seeds": e.shot_seeds,
        "n_test": int(len(y_test)),
        "confusion_matrix": result.confusion.tolist(),
        "baselines": {name: {"test_accuracy": b["test_accuracy"]} for name, b in baselines.items()},
    }
    io.write_json(project.METRICS_DIR / "evaluate.json", metrics)
    rows = ["actual,predicted"] + [f"{a},{p}" for a, p in zip(y_test, result.predictions)]
    io.write_text(Path("plots/evaluate/predictions.csv"), "\n".join(rows) + "\n")

    registry = io.read_json(project.MODEL_DIR / "registry.json")
    tracking.configure(registry["experiment"])
    scalar = {k: metrics[k] for k in ("test_accuracy", "test_accuracy_shots_mean", "test_accuracy_shots_std")}
    run_id = registry["run_id"]  # the training run gets the test figures (it stays finished)
    tracking.log_metrics(scalar, model_id=registry["model_id"], run_id=run_id)  # and its logged model
    tracking.log_metrics({f"baseline_{n}_test_accuracy": b["test_accuracy"] for n, b in baselines.items()}, run_id=run_id)
    fig = plots.confusion_matrix(result.confusion, class_names(), "QCNN, test split (exact)")
    tracking.log_figure(fig, "confusion_matrix.png", run_id=run_id)
    plots.close(fig)
    tracking.log_dict(metrics, "evaluate.json", run_id=run_id)
    tracking.set_model_version_tags(
        registry["name"], registry["version"], {f"sim.{k}": round(v, 6) for k, v in scalar.items()}
    )
    line = ", ".join(f"{n} {b['test_accuracy']:.4f}" for n, b in baselines.items())
    print(
        f"test accuracy {result.test_accuracy:.4f} exact, {result.shots_mean:.4f} ± {result.shots_std:.4f} "
        f"with {e.shots} shots; baselines: {line or 'none'}"
    )


if __name__ == "__main__":
    sys.exit(run_stage("evaluate", main))
