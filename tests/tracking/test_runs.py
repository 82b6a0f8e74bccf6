"""Where runs go and what they record."""

import warnings

import numpy as np

from qml_ops import tracking
from project_fixtures import make_project, use_project


def test_tracking_uri_is_absolute_and_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri() == "http://mlflow.example:5000"


def test_runs_carry_standard_tags_params_and_dataset_lineage_without_warning_noise(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    tracking.configure("test")
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tracking.start_run("r", tags=tracking.standard_tags("train")) as run:
            tracking.log_params({f"p{i}": i for i in range(150)} | {"none": None})
            tracking.log_metrics({"a": 1.0, "nan": float("nan"), "none": None}, step=1)
            tracking.log_dataset(np.zeros((3, 2)), np.zeros(3), "encoded-train", "data/encoded/train.npz@x", "training")
    assert not [w for w in caught if "interpreted in multiple ways" in str(w.message)]
    assert list(warnings.filters) == filters, "a tracking call left a warning filter installed"
    data = tracking.client().get_run(run.info.run_id)
    assert len(data.data.params) == 151 and data.data.params["none"] == "null"
    assert data.data.metrics == {"a": 1.0}
    assert data.data.tags["qml_ops.stage"] == "train"
    assert [d.dataset.name for d in data.inputs.dataset_inputs] == ["encoded-train"]
