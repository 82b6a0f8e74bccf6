"""Runs: where the MLflow store is, which experiment, and what a run records.

* Tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else SQLite at
  ``<project>/mlruns/mlflow.db`` with artifacts under ``<project>/mlruns/artifacts``
  (absolute paths: runs made in ``dvc exp run --temp`` copies land in the real
  project, see :func:`qml_ops.project.find_root`).
* Every stage run is tagged with the git commit, the qml_ops version and the
  DVC md5 of the data it read (:func:`standard_tags`); params are logged as
  flat dotted keys.

Example:
    >>> configure("qml-ops")                                   # doctest: +SKIP
    >>> with start_run("train-qcnn", tags=standard_tags("train")):
    ...     log_params({"train.lr": 0.01}); log_metrics({"loss": 0.3}, step=1)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qml_ops import __version__
from qml_ops.errors import TrackingError
from qml_ops.lineage import dvc_md5_or_none, git_commit
from qml_ops.project import ENCODED_DIR, MLFLOW_DIR, find_root

TRACKING_ENV = "MLFLOW_TRACKING_URI"
#: MLflow caps one ``log_params`` batch at 100 params.
_PARAMS_PER_BATCH = 90


def default_tracking_uri(root: Path | None = None) -> str:
    root = root or find_root()
    return f"sqlite:///{(root / MLFLOW_DIR / 'mlflow.db').resolve()}"


def tracking_uri(root: Path | None = None) -> str:
    """``$MLFLOW_TRACKING_URI``, else the project's SQLite store."""
    return os.environ.get(TRACKING_ENV) or default_tracking_uri(root)


def connect(root: Path | None = None) -> str:
    """Point MLflow at the project store (creating the SQLite folder); returns the URI."""
    import mlflow

    uri = tracking_uri(root)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    return uri


#: MLflow's own environment variables for a server behind authentication.
_AUTH_ENV = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def check_store(root: Path | None = None, timeout_s: float = 5.0) -> str:
    """Fail fast, with the URI (password redacted), when the tracking store cannot be used.

    Stages call this before any work, so a tracking server that is down or refuses
    the credentials stops the stage at once (no half-written outputs, no study or
    trial created), instead of after MLflow's retries minutes later.

    * ``http(s)://``: ``GET /health``, then one authenticated API read
      (credentials from MLflow's ``MLFLOW_TRACKING_TOKEN`` or
      ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``), each with ``timeout_s``, no retries;
    * a database URI (``postgresql://``, ``mysql://``, …): one connection;
    * the project's SQLite file: nothing to check.

    Returns:
        The tracking URI.

    Raises:
        TrackingError: naming the redacted URI and what failed.
    """
    from qml_ops.redact import redact_url

    uri = tracking_uri(root)
    shown = redact_url(uri)
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        _check_server(uri, shown, timeout_s)
    elif scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
        _check_database(uri, shown, timeout_s)
    return uri


def _check_server(uri: str, shown: str, timeout_s: float) -> None:
    import base64
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    base = urllib.parse.urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
                                    parts.path.rstrip("/"), "", ""))
    headers = {}
    token, user, password = (os.environ.get(name) for name in _AUTH_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif user or parts.username:
        pair = f"{user or parts.username}:{password or parts.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    for path, what in (("/health", "is not reachable"),
                       ("/api/2.0/mlflow/experiments/search?max_results=1", "refuses the request")):
        request = urllib.request.Request(base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s):
                pass
        except urllib.error.HTTPError as exc:
            hint = ("check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN"
                    if exc.code in (401, 403) else "is it an MLflow tracking server?")
            raise TrackingError(f"MLflow tracking server {shown} {what} (HTTP {exc.code} {exc.reason}): {hint}; "
                                f"nothing was run") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(
                f"MLflow tracking server {shown} {what} ({reason}): start it, or point MLFLOW_TRACKING_URI at a "
                f"running server (unset it to use the project's mlruns/mlflow.db); nothing was run"
            ) from None


def _check_database(uri: str, shown: str, timeout_s: float) -> None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": int(max(1, timeout_s))})
        with engine.connect():
            pass
    except Exception as exc:  # driver errors: refused, authentication, unknown database, missing driver
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = sqlalchemy.engine.make_url(uri).password if "://" in uri else None
        if password:
            first = first.replace(str(password), "***")
        raise TrackingError(f"MLflow tracking store {shown} cannot be opened ({first}); nothing was run") from None
    finally:
        if "engine" in locals():
            engine.dispose()


def configure(experiment: str, root: Path | None = None) -> str:
    """Point MLflow at the project store and select (or create) ``experiment``.

    Returns the experiment id.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    root = root or find_root()
    connect(root)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is None:
        location = None
        if not os.environ.get(TRACKING_ENV):
            location = (root / MLFLOW_DIR / "artifacts" / experiment).resolve().as_uri()
        try:
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        except MlflowException:  # created concurrently by another worker
            existing = mlflow.get_experiment_by_name(experiment)
            if existing is None:
                raise
            experiment_id = existing.experiment_id
    else:
        experiment_id = existing.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def standard_tags(stage: str, data_outputs: tuple[str, ...] = (str(ENCODED_DIR),), root: Path | None = None) -> dict[str, str]:
    """Tags every run carries: stage, git commit, qml_ops version, DVC md5s of ``data_outputs``."""
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
    """A run (new, nested under ``parent_run_id``, or the existing ``run_id`` resumed)
    that ends FAILED, not FINISHED, if the body raises."""
    import mlflow

    with mlflow.start_run(run_name=None if run_id else run_name, tags=tags, parent_run_id=parent_run_id,
                          run_id=run_id, nested=parent_run_id is not None) as run:
        yield run


def active_run_id() -> str:
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise TrackingError("no active MLflow run")
    return run.info.run_id


def log_params(params: dict[str, Any]) -> None:
    """Log params to the active run (``None`` as ``"null"``), in batches MLflow accepts."""
    import mlflow

    items = [(k, "null" if v is None else v) for k, v in params.items()]
    for i in range(0, len(items), _PARAMS_PER_BATCH):
        mlflow.log_params(dict(items[i : i + _PARAMS_PER_BATCH]))


def log_metrics(metrics: dict[str, float], step: int | None = None, model_id: str | None = None,
                run_id: str | None = None, dataset: Any = None) -> None:
    """Log finite metrics to the active run, or to ``run_id`` (a finished run stays finished),
    and to the logged model ``model_id`` if given, measured on ``dataset`` (a dataset
    :func:`log_dataset` returned) if given: the model page then lists each metric with
    its dataset and run."""
    import mlflow

    finite = {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
    if finite:
        mlflow.log_metrics(finite, step=step, model_id=model_id, run_id=run_id, dataset=dataset)


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


def log_dataset(X: np.ndarray, y: np.ndarray, name: str, source: str, context: str) -> Any:
    """Record a dataset as an input of the active run (MLflow dataset lineage).

    Returns the MLflow dataset, to link metrics to it (:func:`log_metrics` ``dataset=``).
    """
    import mlflow
    import mlflow.data

    with warnings.catch_warnings():
        # the source is a plain project path, which MLflow could also read as a URI: that is fine
        warnings.filterwarnings("ignore", message=".*dataset source can be interpreted in multiple ways.*")
        dataset = mlflow.data.from_numpy(features=np.asarray(X), targets=np.asarray(y), source=source, name=name)
    mlflow.log_input(dataset, context=context)
    return dataset


def log_model_input(model_id: str) -> None:
    """Record the logged model ``model_id`` as an input of the active run (a run that evaluates it)."""
    import mlflow
    from mlflow.entities import LoggedModelInput

    mlflow.log_input(model=LoggedModelInput(model_id=model_id))


def log_table(columns: dict[str, list], name: str, run_id: str | None = None) -> None:
    """A table (column -> values) as an MLflow table artifact ``name`` (``.json``) of the active
    run or ``run_id``; the run page shows it, and ``mlflow.load_table`` reads it back."""
    import mlflow

    mlflow.log_table(data=columns, artifact_file=name, run_id=run_id)


#: The MLflow UI's shared views: an experiment tag with this prefix holds a view's state (JSON);
#: ``#/experiments/<id>/runs?viewStateShareKey=<key>`` opens it (the UI's own *Share* button does the same).
SHARED_VIEW_PREFIX = "mlflow.sharedViewState."


def share_child_runs_view(parent_run_id: str, group_by_param: str, columns: list[str], key: str) -> str:
    """A shared MLflow UI view of ``parent_run_id``'s child runs, one group per value of param
    ``group_by_param``, opened in the chart view (one bar per group in each metric's chart)
    with ``columns`` (``metrics.`x```, ``params.`y```, ``tags.`z```) in the table.

    Child runs sit folded under their parent in the runs table, where the chart view does not
    draw them; this view lists them grouped instead. Returns the UI path to open (after the
    server's address), e.g. ``#/experiments/1/runs?viewStateShareKey=<key>&compareRunsMode=CHART``.
    """
    import json

    import mlflow

    run = mlflow.get_run(parent_run_id)
    state = {
        "searchFilter": f"tags.mlflow.parentRunId = '{parent_run_id}'",
        "orderByKey": "attributes.start_time", "orderByAsc": True,
        "groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "param", "groupByData": group_by_param}]},
        "runsHiddenMode": "SHOW_ALL", "hideEmptyCharts": True, "selectedColumns": columns,
    }
    client().set_experiment_tag(run.info.experiment_id, SHARED_VIEW_PREFIX + key, json.dumps(state))
    return f"#/experiments/{run.info.experiment_id}/runs?viewStateShareKey={key}&compareRunsMode=CHART"


def ui_address() -> str:
    """Where the MLflow UI of the current store is: the tracking server (password redacted),
    or ``qml-ops ui``'s default address for a local store."""
    import re

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", uri).rstrip("/") + "/"
    return "http://127.0.0.1:5000/"


def set_tags(tags: dict[str, Any]) -> None:
    import mlflow

    mlflow.set_tags({k: str(v) for k, v in tags.items()})


def client():
    """An ``MlflowClient`` on the current tracking URI."""
    from mlflow import MlflowClient

    return MlflowClient()
