"""Reading what earlier stages wrote (prepared and encoded splits, the encoder,
the class names, the baselines' metrics).

Every reader takes the project ``root`` (default: the working directory, where
DVC runs a stage) and says which stage to run when its input is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qml_ops import io, project
from qml_ops.errors import DataError

if TYPE_CHECKING:
    from qml_ops.encodings import Encoder


def _split(folder: Path, split: str, stage: str, root: Path) -> tuple[np.ndarray, np.ndarray]:
    path = root / project.split_file(folder, split)
    if not path.exists():
        raise DataError(f"{path}: not found (run the {stage} stage first)")
    with np.load(path) as archive:
        return archive["X"], archive["y"]


def load_encoded(root: Path = Path(".")) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{split: (X, y)}`` from ``data/encoded``."""
    return {name: _split(project.ENCODED_DIR, name, "encode", root) for name in project.SPLITS}


def load_prepared(split: str, root: Path = Path(".")) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of one split from ``data/prepared`` (raw samples)."""
    return _split(project.PREPARED_DIR, split, "prepare", root)


def class_names(root: Path = Path(".")) -> list[str]:
    """The two class names, label 0 first (``data/prepared/meta.json``)."""
    path = root / project.PREPARED_META
    if not path.exists():
        raise DataError(f"{path}: not found (run the prepare stage first)")
    return list(io.read_json(path)["classes"])


def load_meta(root: Path = Path(".")) -> dict[str, Any]:
    """What the prepare stage recorded (``data/prepared/meta.json``: source, classes, counts per split)."""
    path = root / project.PREPARED_META
    if not path.exists():
        raise DataError(f"{path}: not found (run the prepare stage first)")
    return io.read_json(path)


def load_encoder(root: Path = Path(".")) -> "Encoder":
    """The encoder the encode stage fitted (``data/encoded/encoder.json``)."""
    from qml_ops.encodings import encoder_from_dict

    path = root / project.ENCODER_FILE
    if not path.exists():
        raise DataError(f"{path}: not found (run the encode stage first)")
    return encoder_from_dict(io.read_json(path))


def load_baseline_metrics(root: Path = Path(".")) -> dict[str, Any]:
    """``metrics/baseline.json`` (``{}`` if the baseline stage has not run)."""
    path = root / project.BASELINE_METRICS
    return io.read_json(path) if path.exists() else {}
