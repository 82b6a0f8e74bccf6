"""The QCNN classifier: a scikit-learn estimator trained on the fast batched simulator.

It stores its hyper-parameters on construction (``get_params``/``set_params``
and :func:`sklearn.base.clone` read them from the ``__init__`` signature) and
its learned state after :meth:`QCNNClassifier.fit`: ``classes_``,
``n_features_in_``, ``weights_``, ``history_``, ``best_epoch_``. Inputs are
*encoded* features (what the ``encode`` stage writes); the registered MLflow
model wraps this with the fitted encoder so it takes raw samples.

Labels: the first class (``classes_[0]``) ↔ ⟨Z⟩ = +1, the second ↔ ⟨Z⟩ = −1 on
the read-out qubit, so P(classes_[1]) = (1 − ⟨Z⟩)/2. :meth:`~QCNNClassifier.expval`
gives ⟨Z⟩; :meth:`~QCNNClassifier.decision_function` follows scikit-learn's sign
(positive → ``classes_[1]``), so it is −⟨Z⟩. Losses: ``mse`` on ±1 targets, or
``cross_entropy`` on the read-out probabilities.

Example:
    >>> clf = QCNNClassifier(n_qubits=4, ansatz=1, epochs=2)      # doctest: +SKIP
    >>> clf.fit(X_train, y_train).predict(X_test)                 # doctest: +SKIP
    >>> sklearn.base.clone(clf).set_params(lr=0.05)               # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import ModelError, ModelInputError

#: Called after every epoch with (epoch, metrics); return True to stop early.
EpochCallback = Callable[[int, dict[str, float]], Optional[bool]]

#: The file a fitted model is saved as, inside its folder.
MODEL_FILE = "model.json"
FORMAT = 1
#: Labels of models saved before ``classes`` was stored (always 0/1).
_LEGACY_CLASSES = [0, 1]
_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}
_PREDICT_BATCH = 1024


class ModelNotFittedError(ModelError, NotFittedError):
    """A model used before :meth:`QCNNClassifier.fit` or :meth:`QCNNClassifier.load`."""


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


class QCNNClassifier(ClassifierMixin, BaseEstimator):
    """A QCNN binary classifier trained on the fast batched simulator.

    Args:
        n_qubits: 4, 8 or 16.
        ansatz: convolution ansatz 1–9 (Hur, Kim & Park 2022, Fig. 2; 9 is SU(4)).
        encoding: ``angle``, ``dense_angle`` or ``amplitude`` (must match the features).
        loss: ``mse`` (on ⟨Z⟩ vs ±1) or ``cross_entropy``.
        optimizer: ``adam`` or ``nesterov`` (SGD with Nesterov momentum, as in the paper).
        lr, momentum, batch_size, epochs: the usual.
        patience: stop after this many epochs without a better validation
            accuracy (0: never stop early). The best epoch's weights are kept.
        seed: seeds the initial weights and the batch order.
        device: ``cpu``, ``cuda`` or ``auto``. dtype: ``complex64`` or ``complex128``.
        threads: torch intra-op threads (0: leave torch's default).
        noise: train through this noise (noise-aware training): the dict form of a
            :class:`~qml_ops.simulation.noisy.UnitNoise` (``train.noise_model`` derives it
            from a device's calibration, :mod:`qml_ops.hardware.noise_aware`). Training
            loss and the per-epoch accuracies (so early stopping and the kept epoch) are
            then under that noise; predictions stay those of the ideal circuit (the
            simulator), the device's are the emulator's. None: noiseless training.

    Example:
        >>> from sklearn.base import clone
        >>> clf = QCNNClassifier(n_qubits=4, ansatz=2)
        >>> clone(clf).set_params(lr=0.05).get_params()["lr"]
        0.05
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
        noise: dict | None = None,
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
        self.noise = noise

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # one read-out qubit: two classes
        return tags

    # -- helpers ---------------------------------------------------------------
    @property
    def spec(self) -> QCNNSpec:
        """The circuit these hyper-parameters describe (raises ModelError for bad ones)."""
        return QCNNSpec(n_qubits=self.n_qubits, ansatz=self.ansatz, encoding=self.encoding)

    def _simulator(self):
        from qml_ops.simulation.engine import BatchedSimulator

        if self.dtype not in _DTYPES:
            raise ModelError(f"dtype {self.dtype!r} not supported; allowed: {sorted(_DTYPES)}")
        return BatchedSimulator(self.spec, device=resolve_device(self.device), dtype=_DTYPES[self.dtype])

    def _training_simulator(self):
        """What ``fit`` trains on: the noiseless simulator, or the noisy one with ``noise``."""
        if self.noise is None:
            return self._simulator()
        from qml_ops.simulation.noisy import NoisySimulator

        return NoisySimulator(self.spec, self.noise, device=resolve_device(self.device), dtype=_DTYPES[self.dtype])

    def _real_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "complex128" else torch.float32

    def _check_width(self, X: np.ndarray) -> np.ndarray:
        expected = self.spec.n_features
        if X.shape[1] != expected:
            raise ModelInputError(
                f"expected encoded features of shape (N, {expected}) for {self.encoding} encoding on "
                f"{self.n_qubits} qubits, got {X.shape} (X has {X.shape[1]} feature(s))"
            )
        return X

    def _check_features(self, X: Any) -> np.ndarray:
        """Features for a fitted model: scikit-learn's checks (against ``n_features_in_``), then the circuit's width."""
        try:
            X = validate_data(self, X, reset=False, dtype=np.float64)
        except ValueError as exc:
            raise ModelInputError(str(exc)) from None
        return self._check_width(X)

    def _check_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Training features and labels: types, then two classes, then the circuit's width."""
        try:
            X, y = validate_data(self, X, y, reset=True, dtype=np.float64)
            check_classification_targets(y)
            kind = type_of_target(y, input_name="y")
            if kind != "binary":
                raise ValueError(f"Only binary classification is supported. The type of the target is {kind}.")
        except ValueError as exc:
            raise ModelInputError(str(exc)) from None
        classes = np.unique(y)
        if len(classes) != 2:
            raise ModelInputError(
                f"a QCNN is a binary classifier: y must hold exactly two classes, got {len(classes)} class(es) "
                f"{classes.tolist()}"
            )
        return self._check_width(X), y

    def _targets(self, y: Any) -> np.ndarray:
        """0/1 targets (1 for ``classes_[1]``) of labels ``y``."""
        y = np.asarray(y)
        unknown = sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()))
        if unknown:
            raise ModelInputError(f"labels {unknown[:5]} are not among the classes seen in fit {self.classes_.tolist()}")
        return (y == self.classes_[1]).astype(np.float64)

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
        """Train on encoded features ``X`` (N, n_features) and two-class labels ``y``.

        Args:
            X_val, y_val: a validation split: early stopping and the kept
                weights follow its accuracy (else the training accuracy).
            callback: called after every epoch (see :data:`EpochCallback`).
            progress: show a progress bar.

        Returns:
            self, with ``classes_``, ``n_features_in_``, ``weights_``,
            ``history_`` and ``best_epoch_`` set.

        Raises:
            ModelInputError: bad shapes, NaN/inf, or not exactly two classes.
            ModelError: bad hyper-parameters, or the loss became NaN/inf (diverged).
        """
        if self.threads:
            torch.set_num_threads(self.threads)
        X, y = self._check_training_data(X, y)
        self.classes_ = np.unique(y)
        targets = self._targets(y)
        has_val = X_val is not None and y_val is not None and len(y_val) > 0
        if self.dtype not in _DTYPES:
            raise ModelError(f"dtype {self.dtype!r} not supported; allowed: {sorted(_DTYPES)}")
        sim = self._training_simulator()
        device = sim.device
        real = self._real_dtype()
        Xt = torch.as_tensor(X, dtype=real, device=device)
        yt = torch.as_tensor(targets, dtype=real, device=device)
        if has_val:
            Xv = torch.as_tensor(self._check_features(X_val), dtype=real, device=device)
            yv = torch.as_tensor(self._targets(y_val), dtype=real, device=device)

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
        try:
            check_is_fitted(self, ("weights_", "classes_"))
        except NotFittedError:
            raise ModelNotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit() or load()"
            ) from None

    def expval(self, X: np.ndarray) -> np.ndarray:
        """⟨Z⟩ on the read-out qubit for each sample (exact expectation, in [−1, 1])."""
        self._require_fitted()
        X = self._check_features(X)
        sim = self._simulator()
        real = self._real_dtype()
        with torch.no_grad():
            weights = torch.as_tensor(self.weights_, dtype=real, device=sim.device)
            out = [
                sim.expval(weights, torch.as_tensor(X[i : i + _PREDICT_BATCH], dtype=real, device=sim.device))
                for i in range(0, len(X), _PREDICT_BATCH)
            ]
        return torch.cat(out).detach().cpu().to(torch.float64).numpy() if out else np.zeros(0)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """scikit-learn's score: positive → ``classes_[1]``; it is −⟨Z⟩ (see :meth:`expval`)."""
        return -self.expval(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(N, 2)``: P(classes_[0]), P(classes_[1]) = (1 − ⟨Z⟩)/2 (the read-out's Born probabilities)."""
        z = self.expval(X)
        p1 = np.clip((1.0 - z) / 2.0, 0.0, 1.0)
        return np.stack([1.0 - p1, p1], axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``classes_[1]`` where ⟨Z⟩ < 0, else ``classes_[0]``."""
        positive = self.expval(X) < 0
        return self.classes_[positive.astype(np.int64)]

    # -- persistence -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-able data (what ``model.json`` holds)."""
        self._require_fitted()
        return {
            "format": FORMAT,
            "hyperparameters": self.get_params(),
            "spec": self.spec.to_dict(),
            "classes": self.classes_.tolist(),
            "weights": self.weights_.tolist(),
            "best_epoch": self.best_epoch_,
            "history": [r.__dict__ for r in self.history_],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model") -> "QCNNClassifier":
        """A fitted model from :meth:`to_dict` data (files saved before ``classes`` was kept load as 0/1)."""
        model = cls(**data["hyperparameters"])
        model.weights_ = np.asarray(data["weights"], dtype=np.float64)
        model.classes_ = np.asarray(data.get("classes", _LEGACY_CLASSES))
        model.n_features_in_ = model.spec.n_features
        model.best_epoch_ = data.get("best_epoch", 0)
        model.history_ = [EpochRecord(**r) for r in data.get("history", [])]
        if len(model.weights_) != model.spec.n_weights:
            raise ModelError(f"{source}: {len(model.weights_)} weights, the circuit needs {model.spec.n_weights}")
        return model

    def save(self, folder: str | Path) -> None:
        """Write ``<folder>/model.json`` (atomically)."""
        from qml_ops import io

        io.write_json(Path(folder) / MODEL_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: str | Path) -> "QCNNClassifier":
        """Read ``<folder>/model.json``."""
        import json

        path = Path(folder) / MODEL_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(f"{path}: no trained model (run the train stage first)") from None
        return cls.from_dict(data, source=str(path))


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
