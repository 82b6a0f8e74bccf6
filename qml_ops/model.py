"""The QCNN classifier, an estimator in the scikit-learn habit.

Hyper-parameters are stored on construction, learned state (``weights_``,
``history_``) after :meth:`QCNNClassifier.fit`. Inputs are *encoded* features
(what the ``encode`` stage writes); the registered MLflow model wraps this with
the fitted encoder so it takes raw samples.

Labels: class 0 ↔ ⟨Z⟩ = +1, class 1 ↔ ⟨Z⟩ = −1 on the read-out qubit, so
P(class 1) = (1 − ⟨Z⟩)/2. Losses: ``mse`` on ±1 targets, or ``cross_entropy``
on the read-out probabilities.

Example:
    >>> clf = QCNNClassifier(n_qubits=4, ansatz=1, epochs=2)      # doctest: +SKIP
    >>> clf.fit(X_train, y_train).predict(X_test)                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import ModelError

#: Called after every epoch with (epoch, metrics); return True to stop early.
EpochCallback = Callable[[int, dict[str, float]], Optional[bool]]

_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}
HYPERPARAMS = (
    "n_qubits", "ansatz", "encoding", "loss", "optimizer", "lr", "momentum", "batch_size", "epochs",
    "patience", "seed", "device", "dtype", "threads",
)


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: float | None
    val_loss: float | None
    seconds: float

    def as_metrics(self) -> dict[str, float]:
        out = {"loss": self.loss, "train_accuracy": self.train_accuracy, "epoch_seconds": self.seconds}
        if self.val_accuracy is not None:
            out["val_accuracy"] = self.val_accuracy
            out["val_loss"] = self.val_loss
        return out


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("train.device = 'cuda' but no CUDA device is available; use 'cpu' or 'auto'")
    return torch.device(device)


class QCNNClassifier:
    """A QCNN binary classifier trained on the fast batched simulator.

    Args:
        n_qubits: 4, 8 or 16.
        ansatz: convolution ansatz 1–9 (FACTS §4; 9 is SU(4)).
        encoding: ``angle``, ``dense_angle`` or ``amplitude`` (must match the features).
        loss: ``mse`` (on ⟨Z⟩ vs ±1) or ``cross_entropy``.
        optimizer: ``adam`` or ``nesterov`` (SGD with Nesterov momentum, as in the paper).
        lr, momentum, batch_size, epochs: the usual.
        patience: stop after this many epochs without a better validation
            accuracy (0: never stop early). The best epoch's weights are kept.
        seed: seeds the initial weights and the batch order.
        device: ``cpu``, ``cuda`` or ``auto``. dtype: ``complex64`` or ``complex128``.
        threads: torch intra-op threads (0: leave torch's default).
    """

    def __init__(
        self,
        n_qubits: int = 8,
        ansatz: int = 9,
        encoding: str = "angle",
        loss: str = "mse",
        optimizer: str = "adam",
        lr: float = 0.01,
        momentum: float = 0.9,
        batch_size: int = 32,
        epochs: int = 30,
        patience: int = 10,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "complex64",
        threads: int = 0,
    ):
        self.n_qubits = n_qubits
        self.ansatz = ansatz
        self.encoding = encoding
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.seed = seed
        self.device = device
        self.dtype = dtype
        self.threads = threads

    # -- helpers ---------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HYPERPARAMS}

    @property
    def spec(self) -> QCNNSpec:
        return QCNNSpec(n_qubits=self.n_qubits, ansatz=self.ansatz, encoding=self.encoding)

    def _simulator(self):
        from qml_ops.simulation.engine import BatchedSimulator

        if self.dtype not in _DTYPES:
            raise ModelError(f"dtype {self.dtype!r} not supported; allowed: {sorted(_DTYPES)}")
        return BatchedSimulator(self.spec, device=resolve_device(self.device), dtype=_DTYPES[self.dtype])

    def _check_features(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        expected = self.spec.n_features
        if X.ndim != 2 or X.shape[1] != expected:
            raise ModelError(
                f"expected encoded features of shape (N, {expected}) for {self.encoding} encoding on "
                f"{self.n_qubits} qubits, got {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise ModelError("features contain NaN or inf")
        return X

    def _loss(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss == "mse":
            return torch.mean((z - (1.0 - 2.0 * y)) ** 2)
        p1 = ((1.0 - z) / 2.0).clamp(1e-7, 1 - 1e-7)
        return torch.nn.functional.binary_cross_entropy(p1, y)

    # -- training ----------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        callback: EpochCallback | None = None,
        progress: bool = False,
    ) -> "QCNNClassifier":
        """Train on encoded features ``X`` (N, n_features) and 0/1 labels ``y``.

        Raises:
            ModelError: bad shapes, or the loss became NaN/inf (diverged).
        """
        if self.threads:
            torch.set_num_threads(self.threads)
        X = self._check_features(X)
        y = np.asarray(y)
        if set(np.unique(y).tolist()) - {0, 1}:
            raise ModelError(f"labels must be 0/1, got {sorted(set(np.unique(y).tolist()))[:5]}")
        has_val = X_val is not None and y_val is not None and len(y_val) > 0
        sim = self._simulator()
        device = sim.device if hasattr(sim, "device") else torch.device("cpu")
        real = torch.float64 if self.dtype == "complex128" else torch.float32
        Xt = torch.as_tensor(X, dtype=real, device=device)
        yt = torch.as_tensor(y, dtype=real, device=device)
        if has_val:
            Xv = torch.as_tensor(self._check_features(X_val), dtype=real, device=device)
            yv = torch.as_tensor(np.asarray(y_val), dtype=real, device=device)

        generator = torch.Generator().manual_seed(self.seed)
        init = torch.rand(self.spec.n_weights, generator=generator, dtype=torch.float64) * 2 * math.pi
        weights = init.to(device=device, dtype=real).requires_grad_(True)
        if self.optimizer == "adam":
            opt = torch.optim.Adam([weights], lr=self.lr)
        elif self.optimizer == "nesterov":
            opt = torch.optim.SGD([weights], lr=self.lr, momentum=self.momentum, nesterov=True)
        else:
            raise ModelError(f"optimizer {self.optimizer!r} not supported; allowed: adam, nesterov")

        history: list[EpochRecord] = []
        best = (-1.0, math.inf)
        best_weights = weights.detach().clone()
        best_epoch, stale = 0, 0
        epochs = range(1, self.epochs + 1)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(epochs, desc="train", unit="epoch", mininterval=1.0)
            epochs = bar
        for epoch in epochs:
            started = time.perf_counter()
            order = torch.randperm(len(Xt), generator=generator).to(device)
            total, count = 0.0, 0
            for start in range(0, len(Xt), self.batch_size):
                idx = order[start : start + self.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = self._loss(sim.expval(weights, Xt[idx]), yt[idx])
                if not torch.isfinite(loss):
                    raise ModelError(
                        f"training diverged at epoch {epoch}: loss is {loss.item()} "
                        f"(try a smaller train.lr than {self.lr})"
                    )
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                count += len(idx)
            with torch.no_grad():
                train_acc = _accuracy(sim.expval(weights, Xt), yt)
                val_acc = val_loss = None
                if has_val:
                    zv = sim.expval(weights, Xv)
                    val_acc, val_loss = _accuracy(zv, yv), float(self._loss(zv, yv))
            record = EpochRecord(epoch, total / count, train_acc, val_acc, val_loss, time.perf_counter() - started)
            history.append(record)
            score = (val_acc, -val_loss) if has_val else (train_acc, -record.loss)
            if score > (best[0], -best[1]):
                best = (score[0], -score[1])
                best_weights, best_epoch, stale = weights.detach().clone(), epoch, 0
            else:
                stale += 1
            if bar is not None:
                bar.set_postfix(loss=f"{record.loss:.4f}", val_acc=f"{val_acc:.3f}" if has_val else "-", refresh=False)
            if callback is not None and callback(epoch, record.as_metrics()):
                break
            if self.patience and stale >= self.patience:
                break
        if bar is not None:
            bar.close()
        self.weights_ = best_weights.detach().cpu().to(torch.float64).numpy()
        self.history_ = history
        self.best_epoch_ = best_epoch
        return self

    # -- inference ---------------------------------------------------------------
    def _require_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise ModelError("model is not fitted yet: call fit() or load()")

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """⟨Z⟩ on the read-out qubit for each sample (exact expectation)."""
        self._require_fitted()
        X = self._check_features(X)
        sim = self._simulator()
        device = sim.device if hasattr(sim, "device") else torch.device("cpu")
        real = torch.float64 if self.dtype == "complex128" else torch.float32
        with torch.no_grad():
            weights = torch.as_tensor(self.weights_, dtype=real, device=device)
            out = [
                sim.expval(weights, torch.as_tensor(X[i : i + 1024], dtype=real, device=device))
                for i in range(0, len(X), 1024)
            ]
        return torch.cat(out).detach().cpu().to(torch.float64).numpy() if out else np.zeros(0)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self.decision_function(X)
        p1 = np.clip((1.0 - z) / 2.0, 0.0, 1.0)
        return np.stack([1.0 - p1, p1], axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) < 0).astype(np.int64)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))

    # -- persistence -------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """Write ``model.json`` (hyper-parameters, circuit spec, weights, history)."""
        from qml_ops import io

        self._require_fitted()
        io.write_json(
            Path(folder) / "model.json",
            {
                "format": 1,
                "hyperparameters": self.get_params(),
                "spec": self.spec.to_dict(),
                "weights": self.weights_.tolist(),
                "best_epoch": self.best_epoch_,
                "history": [r.__dict__ for r in self.history_],
            },
        )

    @classmethod
    def load(cls, folder: str | Path) -> "QCNNClassifier":
        path = Path(folder) / "model.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(f"{path}: no trained model (run the train stage first)") from None
        model = cls(**data["hyperparameters"])
        model.weights_ = np.asarray(data["weights"], dtype=np.float64)
        model.best_epoch_ = data.get("best_epoch", 0)
        model.history_ = [EpochRecord(**r) for r in data.get("history", [])]
        if len(model.weights_) != model.spec.n_weights:
            raise ModelError(f"{path}: {len(model.weights_)} weights, the circuit needs {model.spec.n_weights}")
        return model


def _accuracy(z: torch.Tensor, y: torch.Tensor) -> float:
    return float(((z < 0).to(y.dtype) == y).to(torch.float64).mean())


def shot_predictions(z: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Noiseless finite-shot read-out: sample ``shots`` outcomes from P(1) = (1 − ⟨Z⟩)/2.

    Returns the predicted labels (majority of outcomes: ⟨Z⟩ estimate < 0 → 1;
    ties go to class 0, as the exact rule ⟨Z⟩ < 0 does).
    """
    rng = np.random.default_rng(seed)
    p1 = np.clip((1.0 - np.asarray(z)) / 2.0, 0.0, 1.0)
    ones = rng.binomial(shots, p1)
    return (2 * ones > shots).astype(np.int64)
