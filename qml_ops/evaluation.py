"""Test-split evaluation of a trained QCNN (the ``evaluate`` stage's library).

Exact accuracy uses ⟨Z⟩ from the simulator; finite-shot accuracy samples the
read-out qubit ``shots`` times per sample (noiseless), over several seeds, and
reports mean ± std: what a perfect QPU would give with that many shots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qml_ops.model import QCNNClassifier, shot_predictions


@dataclass
class Evaluation:
    test_accuracy: float
    shot_accuracies: list[float]
    shots: int
    confusion: np.ndarray
    expvals: np.ndarray
    predictions: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def shots_mean(self) -> float:
        return float(np.mean(self.shot_accuracies))

    @property
    def shots_std(self) -> float:
        return float(np.std(self.shot_accuracies))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    matrix = np.zeros((2, 2), dtype=np.int64)
    for actual, predicted in zip(y_true, y_pred):
        matrix[int(actual), int(predicted)] += 1
    return matrix


def evaluate(model: QCNNClassifier, X: np.ndarray, y: np.ndarray, shots: int, n_seeds: int, seed: int = 0) -> Evaluation:
    z = model.decision_function(X)
    predictions = (z < 0).astype(np.int64)
    shot_acc = [float(np.mean(shot_predictions(z, shots, seed + k) == y)) for k in range(n_seeds)]
    return Evaluation(
        test_accuracy=float(np.mean(predictions == y)),
        shot_accuracies=shot_acc,
        shots=shots,
        confusion=confusion_matrix(y, predictions),
        expvals=z,
        predictions=predictions,
    )
