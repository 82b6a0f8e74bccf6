"""Test-split evaluation of a trained QCNN (the ``evaluate`` stage's library).

Exact accuracy uses ⟨Z⟩ from the simulator; finite-shot accuracy samples the
read-out qubit ``shots`` times per sample (noiseless), over several seeds, and
reports mean ± std: what a perfect QPU would give with that many shots. The
exact accuracy carries its 95% Wilson interval (:mod:`qml_ops.intervals`).
:func:`record_evaluation` puts the figures on the model's training run, its
logged model, its registry version and its model card; the stage writes
``metrics/evaluate.json`` (numbers only: :meth:`Evaluation.metrics_file`),
``reports/evaluate.json`` (:meth:`Evaluation.report`: also the shots, the
confusion matrix and the baselines) and ``plots/evaluate/predictions.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qml_ops.intervals import Interval, accuracy_interval, wilson_interval
from qml_ops.model import QCNNClassifier, shot_predictions

#: The exact and finite-shot figures that go on the run, the logged model and the version.
SCALAR_METRICS = ("test_accuracy", "test_accuracy_shots_mean", "test_accuracy_shots_std")
#: The 95% interval of the exact test accuracy (on the run and the logged model too).
INTERVAL_METRICS = ("test_accuracy_ci_low", "test_accuracy_ci_high")


@dataclass
class Evaluation:
    test_accuracy: float
    shot_accuracies: list[float]
    shots: int
    confusion: np.ndarray
    expvals: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    extra: dict = field(default_factory=dict)

    @property
    def shots_mean(self) -> float:
        return float(np.mean(self.shot_accuracies))

    @property
    def shots_std(self) -> float:
        return float(np.std(self.shot_accuracies))

    def metrics(self, baselines: dict[str, Any] | None = None) -> dict[str, Any]:
        """The evaluate stage's metrics (``metrics/evaluate.json``), beside the baselines' test accuracy."""
        return {
            "test_accuracy": self.test_accuracy,
            "test_accuracy_shots_mean": self.shots_mean,
            "test_accuracy_shots_std": self.shots_std,
            "shots": self.shots,
            "shot_seeds": len(self.shot_accuracies),
            "n_test": int(len(self.labels)),
            "confusion_matrix": self.confusion.tolist(),
            "baselines": {name: {"test_accuracy": b["test_accuracy"]} for name, b in (baselines or {}).items()},
        }

    @property
    def test_interval(self) -> Interval:
        """The exact test accuracy with its 95% Wilson interval."""
        return accuracy_interval(np.asarray(self.predictions) == np.asarray(self.labels))

    def interval_metrics(self) -> dict[str, float]:
        interval = self.test_interval
        return {"test_accuracy_ci_low": interval.low, "test_accuracy_ci_high": interval.high}

    def metrics_file(self) -> dict[str, float]:
        """``metrics/evaluate.json``: the numbers a user compares across experiments (the shots
        and seeds are params; the confusion matrix and baselines are in the report)."""
        return {"test_accuracy": self.test_accuracy, **self.interval_metrics(),
                "test_accuracy_shots_mean": self.shots_mean, "test_accuracy_shots_std": self.shots_std}

    def report(self, baselines: dict[str, Any] | None = None) -> dict[str, Any]:
        """``reports/evaluate.json``: :meth:`metrics` with the interval and each baseline's
        interval on the same test samples."""
        doc = {**self.metrics(baselines), **self.interval_metrics()}
        n = int(len(self.labels))
        for name, b in doc["baselines"].items():
            if n:
                low, high = wilson_interval(int(round(b["test_accuracy"] * n)), n)
                b.update(test_accuracy_ci_low=low, test_accuracy_ci_high=high)
            if name in (baselines or {}) and "n_params" in baselines[name]:
                b["n_params"] = baselines[name]["n_params"]
        return doc

    def predictions_csv(self) -> str:
        """``actual,predicted`` per test sample (DVC's confusion-matrix plot)."""
        rows = ["actual,predicted"] + [f"{a},{p}" for a, p in zip(self.labels, self.predictions)]
        return "\n".join(rows) + "\n"


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    matrix = np.zeros((2, 2), dtype=np.int64)
    for actual, predicted in zip(y_true, y_pred):
        matrix[int(actual), int(predicted)] += 1
    return matrix


def evaluate(model: QCNNClassifier, X: np.ndarray, y: np.ndarray, shots: int, n_seeds: int, seed: int = 0) -> Evaluation:
    """Exact and finite-shot accuracy of ``model`` on encoded features ``X`` with 0/1 labels ``y``."""
    z = model.expval(X)
    predictions = (z < 0).astype(np.int64)
    shot_acc = [float(np.mean(shot_predictions(z, shots, seed + k) == y)) for k in range(n_seeds)]
    return Evaluation(
        test_accuracy=float(np.mean(predictions == y)),
        shot_accuracies=shot_acc,
        shots=shots,
        confusion=confusion_matrix(y, predictions),
        expvals=z,
        predictions=predictions,
        labels=np.asarray(y),
    )


def record_evaluation(evaluation: Evaluation, metrics: dict[str, Any], registration, classes: list[str]) -> None:
    """Log the evaluation on the model's training run (it stays finished), its logged
    model and its registry version (``sim.*`` tags).

    Args:
        metrics: :meth:`Evaluation.metrics` (logged whole as ``evaluate.json``).
        registration: the model's :class:`~qml_ops.tracking.ModelRegistration`.
        classes: the class names (for the confusion-matrix figure).
    """
    from qml_ops import plots, tracking

    scalar = {k: metrics[k] for k in SCALAR_METRICS}
    baselines = {f"baseline_{n}_test_accuracy": b["test_accuracy"] for n, b in metrics["baselines"].items()}
    figure = plots.confusion_matrix(evaluation.confusion, classes, "QCNN, test split (exact)")
    try:
        tracking.record_evaluation(
            registration,
            model_metrics={**scalar, **evaluation.interval_metrics()},
            run_metrics=baselines,
            figures={"confusion_matrix.png": figure},
            documents={"evaluate.json": metrics},
            version_tags={f"sim.{k}": round(v, 6) for k, v in scalar.items()},
        )
    finally:
        plots.close(figure)
    if registration.name and registration.version:
        tracking.update_model_card(registration.name, registration.version, registration.run_id, "evaluate",
                                   card_section(metrics))


def card_section(report: dict[str, Any]) -> dict[str, Any]:
    """The model card's ``evaluate`` section (:mod:`qml_ops.model_card`) from :meth:`Evaluation.report`
    (or :meth:`Evaluation.metrics`, then without intervals)."""
    keys = ("test_accuracy", "test_accuracy_ci_low", "test_accuracy_ci_high", "test_accuracy_shots_mean",
            "test_accuracy_shots_std", "shots", "shot_seeds", "n_test")
    return {**{k: report[k] for k in keys if k in report}, "baselines": report.get("baselines", {})}
