"""MLflow tracking and registry: the only module that imports ``mlflow``.

* Tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else SQLite at
  ``<project>/mlruns/mlflow.db`` with artifacts under ``<project>/mlruns/artifacts``
  (absolute paths: runs made in ``dvc exp run --temp`` copies land in the real
  project, see :func:`qml_ops.project.find_root`).
* Every stage run is tagged with the git commit, the qml_ops version and the
  DVC md5 of the data it read; params are logged as flat dotted keys.
* The trained QCNN is logged as an ``mlflow.pyfunc`` model that takes raw
  samples, registered, and given an alias (``candidate``).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qml_ops import __version__
from qml_ops.errors import TrackingError
from qml_ops.lineage import dvc_md5_or_none, git_commit
from qml_ops.project import find_root

import warnings

# Noise in stage logs: dataset sources are plain local paths.
warnings.filterwarnings("ignore", message=".*dataset source can be interpreted in multiple ways.*")

TRACKING_ENV = "MLFLOW_TRACKING_URI"
CANDIDATE_ALIAS = "candidate"


def default_tracking_uri(root: Path | None = None) -> str:
    root = root or find_root()
    return f"sqlite:///{(root / 'mlruns' / 'mlflow.db').resolve()}"


def tracking_uri(root: Path | None = None) -> str:
    return os.environ.get(TRACKING_ENV) or default_tracking_uri(root)


def configure(experiment: str, root: Path | None = None) -> str:
    """Point MLflow at the project store and select (or create) ``experiment``.

    Returns the experiment id.
    """
    import mlflow

    root = root or find_root()
    uri = tracking_uri(root)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is None:
        location = None
        if not os.environ.get(TRACKING_ENV):
            location = (root / "mlruns" / "artifacts" / experiment).resolve().as_uri()
        try:
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        except Exception:  # created concurrently by another worker
            existing = mlflow.get_experiment_by_name(experiment)
            if existing is None:
                raise
            experiment_id = existing.experiment_id
    else:
        experiment_id = existing.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def standard_tags(stage: str, data_outputs: tuple[str, ...] = ("data/encoded",), root: Path | None = None) -> dict[str, str]:
    """Tags every run carries: stage, git commit, qml_ops version, DVC md5s."""
    root = root or Path.cwd()
    tags = {"qml_ops.stage": stage, "qml_ops.version": __version__}
    commit = git_commit(root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    for output in data_outputs:
        md5 = dvc_md5_or_none(output, root / "dvc.lock")
        if md5:
            tags[f"dvc.md5.{output}"] = md5
    exp_name = os.environ.get("DVC_EXP_NAME")
    if exp_name:
        tags["dvc.exp_name"] = exp_name
    return tags


@contextmanager
def start_run(run_name: str, tags: dict[str, str] | None = None, parent_run_id: str | None = None,
              run_id: str | None = None) -> Iterator[Any]:
    """A run that ends FAILED (not FINISHED) if the body raises."""
    import mlflow

    with mlflow.start_run(run_name=None if run_id else run_name, tags=tags, parent_run_id=parent_run_id,
                          run_id=run_id, nested=parent_run_id is not None) as run:
        yield run


def log_params(params: dict[str, Any]) -> None:
    import mlflow

    clean = {k: ("null" if v is None else v) for k, v in params.items()}
    items = list(clean.items())
    for i in range(0, len(items), 90):  # MLflow caps a batch at 100 params
        mlflow.log_params(dict(items[i : i + 90]))


def log_metrics(metrics: dict[str, float], step: int | None = None, model_id: str | None = None,
                run_id: str | None = None) -> None:
    """Log finite metrics to the active run, or to ``run_id`` (a finished run stays finished)."""
    import mlflow

    finite = {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
    if finite:
        mlflow.log_metrics(finite, step=step, model_id=model_id, run_id=run_id)


def log_figure(figure: Any, name: str, run_id: str | None = None) -> None:
    import mlflow

    if run_id:
        client().log_figure(run_id, figure, name)
    else:
        mlflow.log_figure(figure, name)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    import mlflow

    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def log_dict(data: dict, name: str, run_id: str | None = None) -> None:
    import mlflow

    mlflow.log_dict(data, name, run_id=run_id)


def log_dataset(X: np.ndarray, y: np.ndarray, name: str, source: str, context: str) -> None:
    """Record a dataset as a run input (MLflow dataset lineage)."""
    import mlflow
    import mlflow.data

    dataset = mlflow.data.from_numpy(features=np.asarray(X), targets=np.asarray(y), source=source, name=name)
    mlflow.log_input(dataset, context=context)


def set_tags(tags: dict[str, Any]) -> None:
    import mlflow

    mlflow.set_tags({k: str(v) for k, v in tags.items()})


def client():
    from mlflow import MlflowClient

    return MlflowClient()


def active_run_id() -> str:
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise TrackingError("no active MLflow run")
    return run.info.run_id


# -- the pyfunc model ---------------------------------------------------------------

import mlflow.pyfunc  # noqa: E402  (this module is the project's only mlflow importer)


class QCNNPyfuncModel(mlflow.pyfunc.PythonModel):
    """Raw samples in, labels out: the fitted encoder, then the QCNN."""

    OUTPUTS = ("label", "class", "proba", "expval")
    # Inputs are checked against the logged signature and by predict itself; this
    # skips MLflow's type-hint validation (and its warning on every import).
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        self.load_from_paths(context.artifacts)

    def load_from_paths(self, artifacts: dict[str, str]) -> None:
        import json

        from qml_ops.encodings import encoder_from_dict
        from qml_ops.model import QCNNClassifier

        self.model = QCNNClassifier.load(Path(artifacts["model"]).parent)
        self.encoder = encoder_from_dict(json.loads(Path(artifacts["encoder"]).read_text()))
        self.classes = json.loads(Path(artifacts["classes"]).read_text())

    def predict(self, context, model_input, params: dict | None = None):
        from qml_ops.errors import ModelError

        output = (params or {}).get("output", "label")
        if output not in self.OUTPUTS:
            raise ModelError(f"params.output = {output!r}: allowed {list(self.OUTPUTS)}")
        X = np.asarray(getattr(model_input, "values", model_input), dtype=np.float64)
        expected = tuple(self.encoder.input_shape_)
        if X.shape[1:] != expected and (X.ndim < 2 or int(np.prod(X.shape[1:])) != int(np.prod(expected))):
            raise ModelError(
                f"input of shape {X.shape} does not match the model: expected (N, {', '.join(map(str, expected))}) "
                f"raw samples as the prepare stage stores them"
            )
        features = self.encoder.transform(X)
        if output == "expval":
            return self.model.decision_function(features)
        if output == "proba":
            return self.model.predict_proba(features)[:, 1]
        labels = self.model.predict(features)
        if output == "class":
            return np.asarray(self.classes, dtype=object)[labels]
        return labels



def log_qcnn_model(
    model_dir: Path,
    encoder_file: Path,
    classes: list[str],
    input_example: np.ndarray,
    registered_model: str | None = None,
    alias: str | None = CANDIDATE_ALIAS,
    version_tags: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Log the trained QCNN as a pyfunc (weights + encoder + circuit spec).

    The logged model takes raw samples (as the prepare stage stores them) and
    returns 0/1 labels; ``params={"output": "class" | "proba" | "expval"}``
    selects class names, P(class 1) or ⟨Z⟩ instead. If ``registered_model`` is
    given, the model is registered and the new version gets ``alias``.

    Returns:
        dict with ``model_uri``, ``model_id`` and (if registered) ``name``,
        ``version``, ``alias``.
    """
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.types.schema import ParamSchema, ParamSpec

    with tempfile.TemporaryDirectory() as tmp:
        classes_file = Path(tmp) / "classes.json"
        import json

        classes_file.write_text(json.dumps(classes))
        artifacts = {"model": str(model_dir / "model.json"), "encoder": str(encoder_file), "classes": str(classes_file)}
        example = np.asarray(input_example, dtype=np.float64)
        wrapper = QCNNPyfuncModel()
        wrapper.load_from_paths(artifacts)
        signature = infer_signature(example, wrapper.predict(None, example))
        signature.params = ParamSchema([ParamSpec("output", "string", "label")])
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=QCNNPyfuncModel(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            registered_model_name=registered_model,
        )
    result = {"model_uri": info.model_uri, "model_id": info.model_id}
    if registered_model:
        version = str(info.registered_model_version)
        c = client()
        if alias:
            c.set_registered_model_alias(registered_model, alias, version)
        for key, value in (version_tags or {}).items():
            c.set_model_version_tag(registered_model, version, key, str(value))
        result.update(name=registered_model, version=version, alias=alias)
    return result


def set_model_version_tags(name: str, version: str, tags: dict[str, Any]) -> None:
    c = client()
    for key, value in tags.items():
        c.set_model_version_tag(name, str(version), key, str(value))


def set_alias(name: str, version: str, alias: str) -> None:
    """Point ``alias`` of registered model ``name`` at ``version``."""
    c = client()
    try:
        c.get_model_version(name, str(version))
    except Exception as exc:  # MlflowException: RESOURCE_DOES_NOT_EXIST
        raise TrackingError(f"registered model {name!r} has no version {version!r} ({_short(exc)})") from None
    c.set_registered_model_alias(name, alias, str(version))


def resolve_alias(name: str, alias: str):
    """The model version behind ``models:/name@alias`` (clear error if absent)."""
    c = client()
    try:
        return c.get_model_version_by_alias(name, alias)
    except Exception as exc:
        raise TrackingError(
            f"no model version at models:/{name}@{alias} ({_short(exc)}); train and register a model first "
            f"(`dvc repro train`) or set the alias with `qml-ops promote {name} VERSION {alias}`"
        ) from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def download_registered_model(name: str, alias: str, dest: Path) -> tuple[Any, Path]:
    """Fetch the pyfunc folder of ``models:/name@alias``; returns (model version, artifacts folder)."""
    import mlflow

    version = resolve_alias(name, alias)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version.version}", dst_path=str(dest)))
    artifacts = local / "artifacts"
    if not (artifacts / "model.json").exists():
        raise TrackingError(f"models:/{name}@{alias} (version {version.version}) is not a qml-ops QCNN model")
    return version, artifacts


def version_model_id(version: Any) -> str | None:
    """The logged-model id behind a registry version (MLflow 3), if any."""
    model_id = getattr(version, "model_id", None)
    if model_id:
        return model_id
    source = getattr(version, "source", "") or ""
    return source.removeprefix("models:/") if source.startswith("models:/m-") else None
