"""Reading the encode stage's outputs (shared by train, baseline, evaluate, tune)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qml_ops import io, project
from qml_ops.errors import DataError


def load_encoded(root: Path = Path(".")) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{split: (X, y)}`` from ``data/encoded``."""
    out = {}
    for name in project.SPLITS:
        path = root / project.ENCODED_DIR / f"{name}.npz"
        if not path.exists():
            raise DataError(f"{path}: not found (run the encode stage first)")
        with np.load(path) as archive:
            out[name] = (archive["X"], archive["y"])
    return out


def load_prepared(split: str, root: Path = Path(".")) -> tuple[np.ndarray, np.ndarray]:
    path = root / project.PREPARED_DIR / f"{split}.npz"
    if not path.exists():
        raise DataError(f"{path}: not found (run the prepare stage first)")
    with np.load(path) as archive:
        return archive["X"], archive["y"]


def class_names(root: Path = Path(".")) -> list[str]:
    return list(io.read_json(root / project.PREPARED_DIR / "meta.json")["classes"])
