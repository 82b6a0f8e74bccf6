"""Classical baselines on the same encoded features as the QCNN.

Published benchmarks (Bowles, Ahmed & Schuld 2024) find simple classical
models often match quantum ones, so every QCNN result sits beside these:
logistic regression, and a one-hidden-layer MLP sized to about the QCNN's
parameter count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from qml_ops.config import Params


@dataclass
class BaselineResult:
    name: str
    n_params: int
    train_accuracy: float
    val_accuracy: float
    test_accuracy: float

    def as_metrics(self) -> dict[str, float]:
        return {
            "n_params": self.n_params,
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy,
        }


def mlp_hidden_for(n_params: int, n_features: int) -> int:
    """Hidden units so that an (n_features → h → 1) MLP has about ``n_params`` weights."""
    return max(1, round((n_params - 1) / (n_features + 2)))


def fit_baselines(
    splits: dict[str, tuple[np.ndarray, np.ndarray]], target_params: int, seed: int = 0,
    mlp_hidden: int | None = None, max_iter: int = 2000,
) -> list[BaselineResult]:
    """Fit logistic regression and an MLP on train; score train/val/test."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X_train, y_train = splits["train"]
    n_features = X_train.shape[1]
    hidden = mlp_hidden or mlp_hidden_for(target_params, n_features)
    models = {
        "logreg": (LogisticRegression(max_iter=max_iter), n_features + 1),
        "mlp": (
            MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=max_iter, random_state=seed),
            n_features * hidden + hidden + hidden + 1,
        ),
    }
    results = []
    for name, (model, n_params) in models.items():
        model.fit(X_train, y_train)
        scores = {split: float(model.score(*splits[split])) for split in ("train", "val", "test")}
        results.append(BaselineResult(name, n_params, scores["train"], scores["val"], scores["test"]))
    return results


def fit_from_params(params: "Params", splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[BaselineResult]:
    """:func:`fit_baselines` with the MLP sized to the QCNN that ``params`` describe."""
    from qml_ops.circuits.qcnn import QCNNSpec

    spec = QCNNSpec(n_qubits=params.encode.n_qubits, ansatz=params.model.ansatz, encoding=params.encode.method)
    b = params.baseline
    return fit_baselines(splits, spec.n_weights, seed=params.train.seed, mlp_hidden=b.mlp_hidden, max_iter=b.max_iter)


def log_runs(results: list[BaselineResult], params: "Params") -> None:
    """One MLflow run per baseline (``baseline-<name>``), beside the QCNN's runs."""
    from qml_ops import tracking

    tracking.configure(params.tracking.experiment)
    tags = {**tracking.standard_tags("baseline"), "model.family": "classical"}
    for result in results:
        with tracking.start_run(f"baseline-{result.name}", tags=tags):
            tracking.log_params({**params.flat(), "baseline.model": result.name})
            tracking.log_metrics(result.as_metrics())


def summary(results: list[BaselineResult]) -> dict[str, dict[str, float]]:
    """``{name: metrics}`` (``metrics/baseline.json``)."""
    return {result.name: result.as_metrics() for result in results}
