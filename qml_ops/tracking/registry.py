"""The model registry: versions, aliases, version tags, and results recorded on a version.

A trained QCNN is one *registration* (:class:`ModelRegistration`): the run that
trained it, the logged model (MLflow 3 ``m-…`` id) and the registry version
with its alias. The ``train`` stage keeps it in ``models/qcnn/registry.json``;
later stages record their results on all three with :func:`record_evaluation`.

Example:
    >>> resolve_alias("qcnn", "candidate").version                # doctest: +SKIP
    '3'
    >>> set_alias("qcnn", "3", "hardware-validated")             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qml_ops.errors import TrackingError
from qml_ops.tracking.runs import client, configure, log_dict, log_figure, log_metrics

CANDIDATE_ALIAS = "candidate"
#: MLflow error codes that mean "no such model, version or alias" (not a store failure).
_ABSENT = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


@dataclass(frozen=True)
class ModelRegistration:
    """A logged QCNN model and, if registered, its registry version.

    Attributes:
        model_uri: ``models:/m-…``, the logged model.
        model_id: the logged model's id (metrics can be logged on it).
        run_id: the run that trained and logged it.
        experiment: that run's experiment name.
        name, version, alias: the registry version (``None`` when not registered).
    """

    model_uri: str
    model_id: str
    run_id: str
    experiment: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, path: str | Path) -> "ModelRegistration":
        """The registration the train stage wrote (``models/qcnn/registry.json``).

        Raises:
            DataError: the file does not exist (the train stage has not run).
        """
        from qml_ops import io
        from qml_ops.errors import DataError

        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: not found (run the train stage first)")
        return cls.from_dict(io.read_json(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelRegistration":
        known = {k: data.get(k) for k in cls.__dataclass_fields__}
        missing = [k for k in ("model_uri", "model_id", "run_id", "experiment") if not known[k]]
        if missing:
            raise TrackingError(f"model registration lacks {missing} (re-run the train stage)")
        return cls(**known)


def _absent(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) in _ABSENT


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def set_model_version_tags(name: str, version: str, tags: dict[str, Any]) -> None:
    c = client()
    for key, value in tags.items():
        c.set_model_version_tag(name, str(version), key, str(value))


def set_version_description(name: str, version: str, text: str) -> None:
    """The registry version's description (Markdown, rendered by the registry UI)."""
    client().update_model_version(name, str(version), description=text)


def set_registered_model_description(name: str, text: str) -> None:
    """The registered model's description (Markdown), if it differs."""
    c = client()
    if (c.get_registered_model(name).description or "") != text:
        c.update_registered_model(name, description=text)


#: Where a version's model-card sections are kept: artifacts of the run that trained it.
CARD_FOLDER = "model_card"


def model_card_sections(run_id: str) -> dict[str, dict]:
    """The model-card sections stored with training run ``run_id`` (``{section: data}``)."""
    import mlflow

    c = client()
    sections = {}
    for artifact in c.list_artifacts(run_id, CARD_FOLDER):
        if artifact.path.endswith(".json"):
            section = Path(artifact.path).stem
            sections[section] = mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact.path}")
    return sections


def update_model_card(name: str, version: str, run_id: str, section: str, data: dict[str, Any]) -> str:
    """Store one section of a version's model card and re-render the card as the version's description.

    The sections live with the training run (``model_card/<section>.json``), so each stage
    adds its own figures and the card always shows all of them; the registered model's
    description states the alias policy. Returns the card (Markdown).

    Args:
        name, version: the registry version.
        run_id: the run that trained it (where the sections are kept).
        section: ``train``, ``evaluate`` or ``hardware`` (:data:`qml_ops.model_card.SECTIONS`).
        data: the section (JSON-able).
    """
    from qml_ops import model_card

    log_dict(data, f"{CARD_FOLDER}/{section}.json", run_id=run_id)
    sections = model_card_sections(run_id)
    sections[section] = data
    aliases = list(client().get_model_version(name, str(version)).aliases or [])
    text = model_card.render(sections, aliases)
    set_version_description(name, str(version), text)
    set_registered_model_description(name, model_card.ALIAS_POLICY)
    return text


def set_alias(name: str, version: str, alias: str) -> None:
    """Point ``alias`` of registered model ``name`` at ``version``.

    Raises:
        TrackingError: the model has no such version.
    """
    from mlflow.exceptions import MlflowException

    c = client()
    try:
        c.get_model_version(name, str(version))
    except MlflowException as exc:
        if not _absent(exc):
            raise
        raise TrackingError(f"registered model {name!r} has no version {version!r} ({_short(exc)})") from None
    c.set_registered_model_alias(name, alias, str(version))


def resolve_alias(name: str, alias: str):
    """The model version behind ``models:/name@alias``.

    Raises:
        TrackingError: no such model or alias (with how to create one).
    """
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if not _absent(exc):
            raise
        raise TrackingError(
            f"no model version at models:/{name}@{alias} ({_short(exc)}); train and register a model first "
            f"(`dvc repro train`) or set the alias with `qml-ops promote {name} VERSION {alias}`"
        ) from None


def alias_version(name: str, alias: str) -> str | None:
    """The version ``models:/name@alias`` points at, or ``None`` if there is no such alias
    (a store that cannot be reached still raises)."""
    try:
        return str(resolve_alias(name, alias).version)
    except TrackingError:
        return None


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


def record_evaluation(
    registration: ModelRegistration,
    model_metrics: dict[str, float],
    run_metrics: dict[str, float] | None = None,
    figures: dict[str, Any] | None = None,
    documents: dict[str, dict] | None = None,
    version_tags: dict[str, Any] | None = None,
) -> None:
    """Record results of a trained model where its users look for them.

    ``model_metrics`` go on the training run and on its logged model (the model
    page shows them beside the training figures); ``run_metrics``, ``figures``
    (name → matplotlib figure) and ``documents`` (name → JSON-able dict) on the
    training run only (which stays FINISHED); ``version_tags`` on the registry
    version, if the model was registered.
    """
    configure(registration.experiment)
    run_id = registration.run_id
    log_metrics(model_metrics, model_id=registration.model_id, run_id=run_id)
    if run_metrics:
        log_metrics(run_metrics, run_id=run_id)
    for name, figure in (figures or {}).items():
        log_figure(figure, name, run_id=run_id)
    for name, document in (documents or {}).items():
        log_dict(document, name, run_id=run_id)
    if version_tags and registration.name and registration.version:
        set_model_version_tags(registration.name, registration.version, version_tags)
