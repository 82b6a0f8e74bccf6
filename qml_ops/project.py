"""Where things live: the project root and the paths the stages share.

Paths are defined here once, so stage scripts, ``dvc.yaml`` and tests agree.
``QML_OPS_PROJECT_ROOT`` (set by ``scripts/dvc``) pins the root, so that
``dvc exp run --temp``/``--queue`` (which run in a temporary copy) still
write MLflow runs and Optuna studies into the real project.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "QML_OPS_PROJECT_ROOT"

PREPARED_DIR = Path("data/prepared")
ENCODED_DIR = Path("data/encoded")
ENCODER_FILE = Path("models/encoder/encoder.json")
MODEL_DIR = Path("models/qcnn")
METRICS_DIR = Path("metrics")
PLOTS_DIR = Path("plots")
SPLITS = ("train", "val", "test")


def find_root(start: Path | None = None) -> Path:
    """The project root: ``$QML_OPS_PROJECT_ROOT``, else the nearest folder
    above ``start`` (default: the working directory) holding ``dvc.yaml``.

    A DVC temporary experiment workspace (``<root>/.dvc/tmp/exps/...``) maps
    back to the real root.
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    parts = here.parts
    if ".dvc" in parts:  # inside <root>/.dvc/tmp/exps/<tmp>
        idx = len(parts) - 1 - parts[::-1].index(".dvc")
        return Path(*parts[:idx])
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists() or (folder / ".dvc").is_dir():
            return folder
    return here
