"""The QCNN as an MLflow pyfunc model: raw samples in, labels (or class names,
P(class 1), ⟨Z⟩) out, logged with MLflow's models-from-code.

A logged model holds three JSON artifacts (``model.json``: the classifier;
``encoder.json``: the fitted encoding; ``classes.json``: the class names) and,
as code, :mod:`qml_ops.tracking.pyfunc_entry`, which builds a
:class:`QCNNPyfuncModel` through its public name ``qml_ops.tracking.QCNNPyfuncModel``.
No pickle is stored, so moving this module breaks no registered version.
Versions logged before models-from-code hold a cloudpickle of the class by that
same public name, which :mod:`qml_ops.tracking` keeps importable.

Example:
    >>> import mlflow
    >>> model = mlflow.pyfunc.load_model("models:/qcnn@candidate")   # doctest: +SKIP
    >>> model.predict(raw_images, params={"output": "proba"})         # doctest: +SKIP
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np

from qml_ops.errors import ModelError
from qml_ops.tracking.registry import CANDIDATE_ALIAS, ModelRegistration, set_model_version_tags
from qml_ops.tracking.runs import active_run_id, client

#: The models-from-code file MLflow stores with every logged QCNN.
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")
#: Artifact key → file name inside the logged model's ``artifacts/`` folder.
ARTIFACT_FILES = {"model": "model.json", "encoder": "encoder.json", "classes": "classes.json"}


class QCNNPyfuncModel(mlflow.pyfunc.PythonModel):
    """Raw samples in, labels out: the fitted encoder, then the QCNN.

    ``params={"output": ...}`` selects ``label`` (0/1, the default), ``class``
    (class names), ``proba`` (P(class 1)) or ``expval`` (⟨Z⟩ on the read-out qubit).
    """

    OUTPUTS = ("label", "class", "proba", "expval")
    # Inputs are checked against the logged signature and by predict itself; this
    # skips MLflow's type-hint validation (and its warning on every import).
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        self.load_from_paths(context.artifacts)

    def load_from_paths(self, artifacts: dict[str, str]) -> None:
        from qml_ops.encodings import encoder_from_dict
        from qml_ops.model import QCNNClassifier

        self.model = QCNNClassifier.load(Path(artifacts["model"]).parent)
        self.encoder = encoder_from_dict(json.loads(Path(artifacts["encoder"]).read_text()))
        self.classes = json.loads(Path(artifacts["classes"]).read_text())

    def predict(self, context, model_input, params: dict | None = None):
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
            return self.model.expval(features)
        if output == "proba":
            return self.model.predict_proba(features)[:, 1]
        labels = self.model.predict(features)
        if output == "class":  # class names in the order of the model's labels
            return np.asarray(self.classes, dtype=object)[np.searchsorted(self.model.classes_, labels)]
        return labels


# The class's public, pickle-stable name (cloudpickle stores classes by module and name).
QCNNPyfuncModel.__module__ = "qml_ops.tracking"


def write_artifacts(folder: Path, model: Any, encoder: Any, classes: list[str]) -> dict[str, str]:
    """Write the three artifacts of a QCNN pyfunc into ``folder``; returns ``{key: path}``."""
    from qml_ops import io

    documents = {"model": model.to_dict(), "encoder": encoder.to_dict(), "classes": list(classes)}
    paths = {}
    for key, document in documents.items():
        path = folder / ARTIFACT_FILES[key]
        io.write_json(path, document)
        paths[key] = str(path)
    return paths


def log_qcnn_model(
    model: Any,
    encoder: Any,
    classes: list[str],
    input_example: np.ndarray,
    experiment: str,
    registered_model: str | None = None,
    alias: str | None = CANDIDATE_ALIAS,
    version_tags: dict[str, Any] | None = None,
) -> ModelRegistration:
    """Log a fitted QCNN (with its encoder) as a pyfunc in the active run.

    The logged model takes raw samples (as the prepare stage stores them) and
    returns 0/1 labels; ``params={"output": "class" | "proba" | "expval"}``
    selects class names, P(class 1) or ⟨Z⟩ instead. The logged model is named
    after ``registered_model`` (``qcnn`` if none). If ``registered_model`` is
    given, the model is registered and the new version gets ``alias`` and
    ``version_tags``.

    Args:
        model: a fitted :class:`~qml_ops.model.QCNNClassifier`.
        encoder: the fitted encoder its features came from.
        classes: the two class names (label 0, label 1).
        input_example: a few raw samples (stored with the model, and used for its signature).
        experiment: the active run's experiment name (recorded in the registration).
    """
    from mlflow.models import infer_signature
    from mlflow.types.schema import ParamSchema, ParamSpec

    example = np.asarray(input_example, dtype=np.float64)
    with tempfile.TemporaryDirectory(prefix="qml-ops-pyfunc-") as tmp:
        artifacts = write_artifacts(Path(tmp), model, encoder, classes)
        wrapper = QCNNPyfuncModel()
        wrapper.load_from_paths(artifacts)
        signature = infer_signature(example, wrapper.predict(None, example))
        signature.params = ParamSchema([ParamSpec("output", "string", "label")])
        info = mlflow.pyfunc.log_model(
            name=registered_model or "qcnn",  # the model page shows this name
            python_model=str(ENTRY_FILE),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            registered_model_name=registered_model,
        )
    registration = ModelRegistration(model_uri=info.model_uri, model_id=info.model_id, run_id=active_run_id(),
                                     experiment=experiment)
    if not registered_model:
        return registration
    version = str(info.registered_model_version)
    if alias:
        client().set_registered_model_alias(registered_model, alias, version)
    set_model_version_tags(registered_model, version, version_tags or {})
    return ModelRegistration(**{**registration.to_dict(), "name": registered_model, "version": version, "alias": alias})
