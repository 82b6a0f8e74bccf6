"""Training a QCNN from params, tracked in MLflow (the ``train`` stage's library).

:func:`model_from_params` turns the validated params (and, when
``train.use_tuned`` is set, the tuned best params) into a
:class:`~qml_ops.model.QCNNClassifier`; :func:`train_and_register` fits it,
logs the run, registers the model with alias ``candidate`` and returns a
:class:`TrainingResult`. It writes no stage output: the ``train`` stage saves
the model, its registration, the metrics and the learning-curve table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qml_ops import io, project, tracking
from qml_ops.config import Params
from qml_ops.errors import ConfigError
from qml_ops.model import QCNNClassifier

#: Tunable keys (as in ``tune/best_params.json``) → (section, field) in params.
TUNABLE = {
    "ansatz": ("model", "ansatz"),
    "loss": ("model", "loss"),
    "optimizer": ("train", "optimizer"),
    "lr": ("train", "lr"),
    "batch_size": ("train", "batch_size"),
    "epochs": ("train", "epochs"),
}
#: Columns of the learning-curve table (``plots/train/history.csv``).
HISTORY_COLUMNS = ("epoch", "loss", "train_accuracy", "val_accuracy", "val_loss")


def apply_tuned(params: Params, tuned: dict[str, Any]) -> Params:
    """A copy of ``params`` with the tuned values applied (validated again)."""
    from qml_ops.config import parse_params

    source = str(project.TUNED_PARAMS_FILE)
    data = params.model_dump()
    for key, value in tuned.items():
        if key not in TUNABLE:
            raise ConfigError(f"{source}: unknown tuned key {key!r}; allowed: {sorted(TUNABLE)}")
        section, field = TUNABLE[key]
        data[section][field] = value
    return parse_params(data, source=source)


def effective_params(params: Params, root: Path = Path(".")) -> tuple[Params, dict[str, Any]]:
    """Params with tuned values applied when ``train.use_tuned`` is true."""
    if not params.train.use_tuned:
        return params, {}
    path = root / project.TUNED_PARAMS_FILE
    if not path.exists():
        raise ConfigError(f"train.use_tuned = true but {path} does not exist (run the tune stage first)")
    tuned = io.read_json(path)
    tuned = tuned.get("best_params", tuned)
    return apply_tuned(params, tuned), tuned


def tuned_overrides(params: Params, effective: Params) -> list[str]:
    """``section.key: params.yaml value -> tuned value`` for every tuned value that replaces a
    different one in ``params`` (what a ``dvc exp run -S train.lr=…`` would silently lose)."""
    lines = []
    for section, field in TUNABLE.values():
        mine, tuned = getattr(getattr(params, section), field), getattr(getattr(effective, section), field)
        if mine != tuned:
            lines.append(f"{section}.{field}: {mine!r} -> {tuned!r}")
    return lines


def model_from_params(params: Params) -> QCNNClassifier:
    """The classifier ``params`` describe; with ``train.noise_model`` it trains through that device's
    calibrated noise (:func:`qml_ops.hardware.noise_aware.device_noise`)."""
    t = params.train
    noise = None
    if t.noise_model is not None:
        from qml_ops.circuits.qcnn import QCNNSpec
        from qml_ops.hardware.noise_aware import device_noise

        spec = QCNNSpec(params.encode.n_qubits, params.model.ansatz, params.encode.method)
        noise = device_noise(spec, t.noise_model).to_dict()
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
        noise=noise,
    )


def history_rows(model: QCNNClassifier) -> list[dict[str, Any]]:
    return [record.__dict__ for record in model.history_]


def history_csv(rows: list[dict[str, Any]]) -> str:
    """The learning-curve table DVC plots (one row per epoch)."""
    lines = [",".join(HISTORY_COLUMNS)]
    for row in rows:
        lines.append(",".join("" if row.get(c) is None else f"{row[c]:.6g}" for c in HISTORY_COLUMNS))
    return "\n".join(lines) + "\n"


def circuit_figure(model: QCNNClassifier):
    from qml_ops.circuits.reference import draw

    return draw(model.spec)


@dataclass
class TrainingResult:
    """A trained, logged and registered QCNN.

    Attributes:
        model: the fitted classifier (the best epoch's weights).
        metrics: the run's summary (``metrics/train.json``).
        registration: the MLflow run, logged model and registry version.
        tuned: the tuned params applied (empty if none).
    """

    model: QCNNClassifier
    metrics: dict[str, Any]
    registration: tracking.ModelRegistration
    tuned: dict[str, Any]

    def history_csv(self) -> str:
        return history_csv(history_rows(self.model))


def train_and_register(params: Params, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                       root: Path = Path(".")) -> TrainingResult:
    """Fit the QCNN on ``splits`` (train, val), log the run and register the model.

    Reads the fitted encoder, the class names and a few raw test samples (the
    registered model's input example) from ``root``; writes nothing there but
    the MLflow store.
    """
    from qml_ops import plots
    from qml_ops.training_data import class_names, load_encoder, load_prepared

    effective, tuned = effective_params(params, root)
    overridden = tuned_overrides(params, effective)
    if overridden:
        print(f"train: train.use_tuned is true: the tuned values of {project.TUNED_PARAMS_FILE} replace "
              f"params.yaml's {'; '.join(overridden)} (set train.use_tuned=false to train with params.yaml's values)")
    model = model_from_params(effective)
    encoder, classes = load_encoder(root), class_names(root)
    input_example = load_prepared("test", root)[0][:3]
    (X_train, y_train), (X_val, y_val) = splits["train"], splits["val"]
    tracking.configure(params.tracking.experiment)
    tags = tracking.standard_tags("train")
    tags.update({"model.family": "qcnn", "model.ansatz": str(model.ansatz), "train.used_tuned": str(bool(tuned))})
    with tracking.start_run("train-qcnn", tags=tags):
        tracking.log_params(effective.flat())
        md5 = tags.get(f"dvc.md5.{project.ENCODED_DIR}", "unversioned")
        datasets = {}
        for split, (X, y), context in (("train", splits["train"], "training"), ("val", splits["val"], "validation")):
            source = f"{project.split_file(project.ENCODED_DIR, split)}@{md5}"
            datasets[split] = tracking.log_dataset(X, y, f"encoded-{split}", source, context)
        started = time.perf_counter()
        model.fit(
            X_train, y_train, X_val, y_val,
            callback=lambda epoch, metrics: tracking.log_metrics(metrics, step=epoch),
            progress=True,
        )
        wall = time.perf_counter() - started
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
        for fig, name in ((plots.learning_curves(rows), "learning_curves.png"), (circuit_figure(model), "circuit.png")):
            tracking.log_figure(fig, name)
            plots.close(fig)
        registration = tracking.log_qcnn_model(
            model, encoder, classes,
            input_example=input_example,
            experiment=params.tracking.experiment,
            registered_model=params.train.registered_model,
            version_tags={"sim.val_accuracy": round(metrics["val_accuracy"], 6), "qml_ops.stage": "train"},
        )
        # on the logged model, each linked to the dataset it was measured on (the model page lists both)
        tracking.log_metrics({"sim_train_accuracy": metrics["train_accuracy"]}, model_id=registration.model_id,
                             dataset=datasets["train"])
        tracking.log_metrics({"sim_val_accuracy": metrics["val_accuracy"]}, model_id=registration.model_id,
                             dataset=datasets["val"])
    if registration.version:
        tracking.update_model_card(registration.name, registration.version, registration.run_id, "train",
                                   card_section(effective, metrics, registration, bool(tuned), root))
    return TrainingResult(model=model, metrics=metrics, registration=registration, tuned=tuned)


def card_section(params: Params, metrics: dict[str, Any], registration: tracking.ModelRegistration,
                 used_tuned: bool, root: Path = Path(".")) -> dict[str, Any]:
    """The model card's ``train`` section (:mod:`qml_ops.model_card`): data, encoding, ansatz, training."""
    from qml_ops.lineage import dvc_md5_or_none
    from qml_ops.training_data import load_meta

    meta = load_meta(root)
    md5 = {str(path): dvc_md5_or_none(str(path), root / "dvc.lock") for path in (project.PREPARED_DIR, project.ENCODED_DIR)}
    return {
        "model_name": registration.name, "version": registration.version, "train_run_id": registration.run_id,
        "data": {"source": meta.get("source"), "classes": meta.get("classes"), "counts": meta.get("counts"),
                 "md5": {path: value for path, value in md5.items() if value} or {"data": "unversioned (no dvc.lock)"}},
        "encoding": params.encode.method, "n_qubits": params.encode.n_qubits, "ansatz": params.model.ansatz,
        "n_weights": metrics["n_weights"], "loss": params.model.loss, "optimizer": params.train.optimizer,
        "lr": params.train.lr, "batch_size": params.train.batch_size, "best_epoch": metrics["best_epoch"],
        "epochs_run": metrics["epochs_run"], "val_accuracy": metrics["val_accuracy"], "used_tuned": used_tuned,
        "aliases": {registration.alias: "set by the `train` stage: the newest trained version, which the "
                                        "`hardware` stage validates"} if registration.alias else {},
    }
