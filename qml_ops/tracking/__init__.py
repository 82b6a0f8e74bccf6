"""MLflow tracking and registry: the only package that imports ``mlflow``.

One job per module:

* :mod:`~qml_ops.tracking.runs`: the store (tracking URI), experiments, the
  standard tags, runs and what they log (params, metrics, figures, dicts,
  datasets).
* :mod:`~qml_ops.tracking.registry`: registered versions, aliases, version
  tags, downloads, and results recorded on a trained model's run, logged model
  and version.
* :mod:`~qml_ops.tracking.pyfunc`: the QCNN as an MLflow pyfunc model, logged
  with models-from-code (:mod:`~qml_ops.tracking.pyfunc_entry`).

Importing this package does not import ``mlflow``; the pyfunc names
(:class:`QCNNPyfuncModel`, :func:`log_qcnn_model`) load it on first use.
``qml_ops.tracking.QCNNPyfuncModel`` is also the name under which model
versions logged before models-from-code pickled the class: it must stay.

Example:
    >>> from qml_ops import tracking
    >>> tracking.configure("qml-ops")                                      # doctest: +SKIP
    >>> tracking.resolve_alias("qcnn", tracking.CANDIDATE_ALIAS).version     # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

# MLflow draws a progress bar for every artifact download (a registered model is ten
# files): in stage logs and CLI output those lines bury what matters. A user's own
# setting of MLflow's variable for them wins.
ARTIFACT_PROGRESS_BAR_ENV = "mlflow_enable_artifacts_progress_bar".upper()
os.environ.setdefault(ARTIFACT_PROGRESS_BAR_ENV, "false")

from qml_ops.tracking.registry import (
    CANDIDATE_ALIAS,
    ModelRegistration,
    alias_version,
    download_registered_model,
    model_card_sections,
    record_evaluation,
    resolve_alias,
    set_alias,
    set_model_version_tags,
    set_registered_model_description,
    set_version_description,
    update_model_card,
    version_model_id,
)
from qml_ops.tracking.runs import (
    TRACKING_ENV,
    active_run_id,
    check_store,
    client,
    configure,
    connect,
    default_tracking_uri,
    log_artifact,
    log_dataset,
    log_dict,
    log_figure,
    log_metrics,
    log_model_input,
    log_params,
    log_table,
    set_tags,
    share_child_runs_view,
    ui_address,
    standard_tags,
    start_run,
    tracking_uri,
)

#: Names served lazily from :mod:`qml_ops.tracking.pyfunc` (it imports ``mlflow.pyfunc``).
_PYFUNC_NAMES = ("QCNNPyfuncModel", "log_qcnn_model")

__all__ = [
    "CANDIDATE_ALIAS", "ModelRegistration", "QCNNPyfuncModel", "TRACKING_ENV", "active_run_id", "alias_version",
    "client", "configure", "connect", "default_tracking_uri", "download_registered_model", "log_artifact",
    "log_dataset", "log_dict", "log_figure", "log_metrics", "log_model_input", "log_params", "log_qcnn_model",
    "log_table", "model_card_sections", "record_evaluation", "resolve_alias", "set_alias",
    "set_model_version_tags", "set_registered_model_description", "set_tags", "set_version_description",
    "share_child_runs_view", "ui_address",
    "standard_tags", "start_run", "tracking_uri", "update_model_card", "version_model_id",
]


def __getattr__(name: str) -> Any:
    if name in _PYFUNC_NAMES:
        import importlib

        return getattr(importlib.import_module("qml_ops.tracking.pyfunc"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
