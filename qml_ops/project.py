"""Where things live: the project root and every path the stages share.

Each path is defined here once, so the stage scripts in ``pipelines/`` and the
tests agree (``dvc.yaml`` repeats them as literals; ``tests/test_project.py``
checks that the two lists match). Library code returns objects; only the
stages (and the CLI commands that stand in for them) write these paths.

``QML_OPS_PROJECT_ROOT`` (set by ``scripts/dvc``) pins the root, so that
``dvc exp run --temp``/``--queue`` (which run in a temporary copy) still
write MLflow runs and Optuna studies into the real project.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "QML_OPS_PROJECT_ROOT"

SPLITS = ("train", "val", "test")

# -- stage ``prepare`` ----------------------------------------------------------------
PREPARED_DIR = Path("data/prepared")
PREPARED_META = PREPARED_DIR / "meta.json"

# -- stage ``encode`` -----------------------------------------------------------------
ENCODED_DIR = Path("data/encoded")
ENCODER_FILE = ENCODED_DIR / "encoder.json"

# -- stage ``tune`` -------------------------------------------------------------------
TUNED_PARAMS_FILE = Path("tune/best_params.json")

# -- stage ``train`` ------------------------------------------------------------------
MODEL_DIR = Path("models/qcnn")
#: The registered MLflow model version of ``MODEL_DIR`` (written by ``train``, read by ``evaluate``).
REGISTRATION_FILE = MODEL_DIR / "registry.json"

# -- metrics and plots ----------------------------------------------------------------
METRICS_DIR = Path("metrics")
ENCODE_METRICS = METRICS_DIR / "encode.json"
BASELINE_METRICS = METRICS_DIR / "baseline.json"
TUNE_METRICS = METRICS_DIR / "tune.json"
TRAIN_METRICS = METRICS_DIR / "train.json"
EVALUATE_METRICS = METRICS_DIR / "evaluate.json"
HARDWARE_METRICS = METRICS_DIR / "hardware.json"

# Metrics files hold only numbers and booleans a user compares across experiments
# (`dvc metrics show/diff`, `dvc exp show`); the rest of a stage's summary (names,
# paths, reasons, layouts, per-class tables) goes to its report, a DVC output
# that is not a metric.
REPORTS_DIR = Path("reports")
TUNE_REPORT = REPORTS_DIR / "tune.json"
EVALUATE_REPORT = REPORTS_DIR / "evaluate.json"
HARDWARE_REPORT = REPORTS_DIR / "hardware.json"

# Plot data for `dvc plots show/diff` (DVC's built-in templates; see dvc.yaml).
PLOTS_DIR = Path("plots")
TRAIN_HISTORY_PLOT = PLOTS_DIR / "train" / "history.csv"
TUNE_TRIALS_PLOT = PLOTS_DIR / "tune" / "trials.csv"
EVALUATE_PREDICTIONS_PLOT = PLOTS_DIR / "evaluate" / "predictions.csv"
HARDWARE_PLOTS_DIR = PLOTS_DIR / "hardware"
#: One row per device and the simulator: accuracy, its interval, gap, cost (bar and scatter plots).
HARDWARE_ACCURACY_PLOT = HARDWARE_PLOTS_DIR / "accuracy.csv"
#: The interval bounds as their own series (DVC's bar template draws no error bars).
HARDWARE_ACCURACY_LOW_PLOT = HARDWARE_PLOTS_DIR / "accuracy_ci_low.csv"
HARDWARE_ACCURACY_HIGH_PLOT = HARDWARE_PLOTS_DIR / "accuracy_ci_high.csv"

# -- calibration data (tracked in git; dependencies of the hardware stage) ------------
PROFILES_DIR = Path("profiles")
SNAPSHOTS_DIR = PROFILES_DIR / "snapshots"

# -- stores that are not DVC outputs (git-ignored, always in the real project root) ----
MLFLOW_DIR = Path("mlruns")
OPTUNA_DIR = Path("optuna")
QPU_LEDGER = Path("hardware") / "ledger.json"


def split_file(folder: Path, split: str) -> Path:
    """``<folder>/<split>.npz``, e.g. ``split_file(ENCODED_DIR, "train")``."""
    return folder / f"{split}.npz"


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
