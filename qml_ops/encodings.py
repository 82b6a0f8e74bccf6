"""Quantum encodings of classical samples (the ``encode`` stage's library).

Each encoder is fitted on the training split only and then applied, unchanged,
to validation, test and (inside the registered model) raw user input. Its
fitted state is plain JSON (:meth:`to_dict` / :func:`encoder_from_dict`), so
the MLflow model can carry it without pickles.

* ``angle``: PCA to ``n_qubits`` features, min–max scaled to [0, π] with the
  train min/max; other data is clipped into [0, π], never rescaled on its own.
* ``dense_angle``: the same with ``2·n_qubits`` features (RX then RY per qubit).
* ``amplitude``: resize (images) or zero-pad (vectors) to ``2^n_qubits``
  features, then L2-normalise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qml_ops.errors import DataError

FORMAT = 1


class AngleEncoder:
    """PCA + min–max scaling to [0, π].

    Args:
        n_qubits: circuit width.
        dense: if True, ``2·n_qubits`` components (dense angle encoding).

    Example:
        >>> enc = AngleEncoder(4).fit(np.random.default_rng(0).normal(size=(50, 64)))
        >>> enc.transform(np.zeros((2, 64))).shape
        (2, 4)
    """

    def __init__(self, n_qubits: int, dense: bool = False):
        self.n_qubits = n_qubits
        self.dense = dense

    @property
    def method(self) -> str:
        return "dense_angle" if self.dense else "angle"

    @property
    def n_components(self) -> int:
        return 2 * self.n_qubits if self.dense else self.n_qubits

    def fit(self, X: np.ndarray) -> "AngleEncoder":
        from sklearn.decomposition import PCA

        flat = _flatten(X)
        n_samples, n_features = flat.shape
        if self.n_components > min(n_samples, n_features):
            raise DataError(
                f"{self.method} encoding on {self.n_qubits} qubits needs {self.n_components} PCA components, "
                f"but the training split has {n_samples} samples of {n_features} features"
            )
        pca = PCA(n_components=self.n_components, svd_solver="full").fit(flat)
        self.input_shape_ = list(X.shape[1:])
        self.mean_ = pca.mean_
        self.components_ = pca.components_
        projected = self._project(flat)
        total = float(np.var(flat, axis=0).sum())
        kept = np.var(projected, axis=0)
        # constant training data: nothing is lost, so the kept components hold "all" of it
        self.explained_variance_ratio_ = kept / total if total > 0 else np.full(len(kept), 1.0 / len(kept))
        self.min_ = projected.min(axis=0)
        span = projected.max(axis=0) - self.min_
        self.scale_ = np.where(span > 0, span, 1.0)
        return self

    def _project(self, flat: np.ndarray) -> np.ndarray:
        return (flat - self.mean_) @ self.components_.T

    def summary(self) -> dict[str, Any]:
        """What the fit kept: method, width and the
        fraction of the training variance the PCA components hold."""
        return {
            "method": self.method,
            "n_qubits": self.n_qubits,
            "n_features": self.n_components,
            "pca_explained_variance": round(float(np.sum(self.explained_variance_ratio_)), 6),
        }

    def metrics(self) -> dict[str, Any]:
        """``metrics/encode.json``: the numbers of :meth:`summary` (method and width are params)."""
        return {k: v for k, v in self.summary().items() if k not in ("method", "n_qubits")}

    def transform(self, X: np.ndarray) -> np.ndarray:
        flat = _flatten(_check_input(X, self.input_shape_))
        scaled = (self._project(flat) - self.min_) / self.scale_ * math.pi
        return np.clip(scaled, 0.0, math.pi)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "method": self.method,
            "n_qubits": self.n_qubits,
            "input_shape": self.input_shape_,
            "mean": self.mean_.tolist(),
            "components": self.components_.tolist(),
            "min": self.min_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AngleEncoder":
        enc = cls(data["n_qubits"], dense=data["method"] == "dense_angle")
        enc.input_shape_ = list(data["input_shape"])
        enc.mean_ = np.asarray(data["mean"], dtype=np.float64)
        enc.components_ = np.asarray(data["components"], dtype=np.float64)
        enc.min_ = np.asarray(data["min"], dtype=np.float64)
        enc.scale_ = np.asarray(data["scale"], dtype=np.float64)
        return enc


class AmplitudeEncoder:
    """Resize or pad to ``2^n_qubits`` amplitudes and L2-normalise.

    Args:
        n_qubits: circuit width; the state has ``2^n_qubits`` amplitudes.
        mode: ``resize`` (2-D images are resized to a square of side
            ``2^(n/2)``; vectors are linearly interpolated) or ``pad``
            (zero-padding; more features than amplitudes is an error).
    """

    def __init__(self, n_qubits: int, mode: str = "resize"):
        self.n_qubits = n_qubits
        self.mode = mode

    method = "amplitude"

    @property
    def n_components(self) -> int:
        return 2**self.n_qubits

    def fit(self, X: np.ndarray) -> "AmplitudeEncoder":
        self.input_shape_ = list(X.shape[1:])
        width = int(np.prod(self.input_shape_))
        if self.mode == "pad" and width > self.n_components:
            raise DataError(
                f"amplitude encoding with mode 'pad': samples have {width} features, more than "
                f"2^{self.n_qubits} = {self.n_components} amplitudes; use mode 'resize' or more qubits"
            )
        return self

    def summary(self) -> dict[str, Any]:
        """What the fit kept: method and width."""
        return {"method": self.method, "n_qubits": self.n_qubits, "n_features": self.n_components}

    def metrics(self) -> dict[str, Any]:
        """``metrics/encode.json``: the numbers of :meth:`summary` (method and width are params)."""
        return {k: v for k, v in self.summary().items() if k not in ("method", "n_qubits")}

    def _resize(self, X: np.ndarray) -> np.ndarray:
        if X.ndim == 3 and self.n_qubits % 2 == 0:
            from PIL import Image

            side = 2 ** (self.n_qubits // 2)
            out = np.empty((len(X), side * side))
            for i, image in enumerate(X):
                resized = Image.fromarray(image.astype(np.float32), mode="F").resize((side, side), Image.BILINEAR)
                out[i] = np.asarray(resized, dtype=np.float64).ravel()
            return out
        flat = _flatten(X)
        grid = np.linspace(0, 1, flat.shape[1])
        target = np.linspace(0, 1, self.n_components)
        return np.stack([np.interp(target, grid, row) for row in flat])

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = _check_input(X, self.input_shape_)
        if self.mode == "resize":
            vectors = self._resize(X)
        else:
            flat = _flatten(X)
            vectors = np.zeros((len(flat), self.n_components))
            vectors[:, : flat.shape[1]] = flat
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise DataError(f"amplitude encoding: {int(np.sum(norms == 0))} sample(s) are all zeros (no state)")
        return vectors / norms

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "method": "amplitude",
            "n_qubits": self.n_qubits,
            "mode": self.mode,
            "input_shape": self.input_shape_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AmplitudeEncoder":
        enc = cls(data["n_qubits"], data.get("mode", "resize"))
        enc.input_shape_ = list(data["input_shape"])
        return enc


Encoder = AngleEncoder | AmplitudeEncoder

_FACTORIES = {
    "angle": lambda n, mode: AngleEncoder(n),
    "dense_angle": lambda n, mode: AngleEncoder(n, dense=True),
    "amplitude": lambda n, mode: AmplitudeEncoder(n, mode),
}


def make_encoder(method: str, n_qubits: int, amplitude_mode: str = "resize") -> Encoder:
    if method not in _FACTORIES:
        raise DataError(f"unknown encoding {method!r}; allowed: {sorted(_FACTORIES)}")
    return _FACTORIES[method](n_qubits, amplitude_mode)


def encoder_from_dict(data: dict[str, Any]) -> Encoder:
    method = data.get("method")
    if method == "amplitude":
        return AmplitudeEncoder.from_dict(data)
    if method in ("angle", "dense_angle"):
        return AngleEncoder.from_dict(data)
    raise DataError(f"encoder file: unknown method {method!r}")


def _flatten(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(len(X), -1)


def _check_input(X: np.ndarray, input_shape: list[int]) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if list(X.shape[1:]) != list(input_shape):
        width = int(np.prod(input_shape))
        if X.ndim >= 2 and int(np.prod(X.shape[1:])) == width:
            X = X.reshape((len(X), *input_shape))
        else:
            raise DataError(
                f"input samples have shape {tuple(X.shape[1:])}, the encoder was fitted on {tuple(input_shape)}"
            )
    if not np.all(np.isfinite(X)):
        raise DataError("input contains NaN or inf values")
    return X
