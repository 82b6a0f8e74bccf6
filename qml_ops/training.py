"""Training a QCNN from params, tracked in MLflow (the ``train`` stage's library).

:func:`model_from_params` turns the validated params (and, when
``train.use_tuned`` is set, the tuned best params) into a
:class:`~qml_ops.model.QCNNClassifier`; :func:`train_and_register` fits it,
logs the run and registers the model with alias ``candidate``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from qml_ops import io, project, tracking
from qml_ops.config import Params
from qml_ops.errors import ConfigError
from qml_ops.model import QCNNClassifier

TUNED_FILE = Path("tune/best_params.json")

#: Tunable keys (as in ``tune/best_params.json``) → (section, field) in params.
TUNABLE = {
    "ansatz": ("model", "ansatz"),
    "loss": ("model", "loss"),
    "optimizer": ("train", "optimizer"),
    "lr": ("train", "lr"),
    "batch_size": ("train", "batch_size"),
    "epochs": ("train", "epochs"),
}


def apply_tuned(params: Params, tuned: dict[str, Any]) -> Params:
    """A copy of ``params`` with the tuned values applied (validated again)."""
    from qml_ops.config import parse_params

    data = params.model_dump()
    for key, value in tuned.items():
        if key not in TUNABLE:
            raise ConfigError(f"{TUNED_FILE}: unknown tuned key {key!r}; allowed: {sorted(TUNABLE)}")
        section, field = TUNABLE[key]
        data[section][field] = value
    return parse_params(data, source=str(TUNED_FILE))


def effective_params(params: Params, root: Path = Path(".")) -> tuple[Params, dict[str, Any]]:
    """Params with tuned values applied when ``train.use_tuned`` is true."""
    if not params.train.use_tuned:
        return params, {}
    path = root / TUNED_FILE
    if not path.exists():
        raise ConfigError(f"train.use_tuned = true but {path} does not exist (run the tune stage first)")
    tuned = io.read_json(path)
    tuned = tuned.get("best_params", tuned)
    return apply_tuned(params, tuned), tuned


def model_from_params(params: Params) -> QCNNClassifier:
    t = params.train
    return QCNNClassifier(
        n_qubits=params.encode.n_qubits,
        ansatz=params.model.ansatz,
        encoding=params.encode.method,
        loss=params.model.loss,
        optimizer=t.optimizer,
        lr=t.lr,
        momentum=t.momentum,
        batch_size=t.batch_size,
        epochs=t.epochs,
        patience=t.patience,
        seed=t.seed,
        device=t.device,
        dtype=t.dtype,
        threads=t.threads,
    )


def history_rows(model: QCNNClassifier) -> list[dict[str, Any]]:
    return [record.__dict__ for record in model.history_]


def write_history_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = ["epoch", "loss", "train_accuracy", "val_accuracy", "val_loss"]
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join("" if row.get(c) is None else f"{row[c]:.6g}" for c in columns))
    io.write_text(path, "\n".join(lines) + "\n")


def circuit_figure(model: QCNNClassifier):
    from qml_ops.circuits.reference import draw

    return draw(model.spec)


def train_and_register(params: Params, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Fit the QCNN, write ``models/qcnn`` and ``metrics/train.json``, log and register it."""
    from qml_ops import plots
    from qml_ops.training_data import class_names, load_prepared

    effective, tuned = effective_params(params)
    model = model_from_params(effective)
    (X_train, y_train), (X_val, y_val) = splits["train"], splits["val"]
    tracking.configure(params.tracking.experiment)
    tags = tracking.standard_tags("train")
    tags.update({"model.family": "qcnn", "model.ansatz": str(model.ansatz), "train.used_tuned": str(bool(tuned))})
    with tracking.start_run("train-qcnn", tags=tags) as run:
        tracking.log_params(effective.flat())
        md5 = tags.get("dvc.md5.data/encoded", "unversioned")
        tracking.log_dataset(X_train, y_train, "encoded-train", f"data/encoded/train.npz@{md5}", "training")
        tracking.log_dataset(X_val, y_val, "encoded-val", f"data/encoded/val.npz@{md5}", "validation")
        started = time.perf_counter()
        model.fit(
            X_train, y_train, X_val, y_val,
            callback=lambda epoch, metrics: tracking.log_metrics(metrics, step=epoch),
            progress=True,
        )
        wall = time.perf_counter() - started
        model.save(project.MODEL_DIR)
        rows = history_rows(model)
        best = rows[model.best_epoch_ - 1]
        metrics = {
            "train_accuracy": best["train_accuracy"],
            "val_accuracy": best["val_accuracy"],
            "best_epoch": model.best_epoch_,
            "epochs_run": len(rows),
            "n_weights": model.spec.n_weights,
            "train_seconds": round(wall, 3),
        }
        tracking.log_metrics({f"final_{k}": v for k, v in metrics.items()})
        write_history_csv(Path("plots/train/history.csv"), rows)
        for fig, name in ((plots.learning_curves(rows), "learning_curves.png"), (circuit_figure(model), "circuit.png")):
            tracking.log_figure(fig, name)
            plots.close(fig)
        X_raw, _ = load_prepared("test")
        registered = tracking.log_qcnn_model(
            project.MODEL_DIR,
            project.ENCODED_DIR / "encoder.json",
            class_names(),
            input_example=X_raw[:3],
            registered_model=params.train.registered_model,
            version_tags={"sim.val_accuracy": round(metrics["val_accuracy"], 6), "qml_ops.stage": "train"},
        )
        tracking.log_metrics({"sim_val_accuracy": metrics["val_accuracy"]}, model_id=registered["model_id"])
        registered["run_id"] = run.info.run_id
        registered["experiment"] = params.tracking.experiment
    io.write_json(project.MODEL_DIR / "registry.json", registered)
    io.write_json(project.METRICS_DIR / "train.json", metrics)
    return {**metrics, **registered}
