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


# ---- a tracking store that cannot be used stops a stage before any work

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qml_ops.errors import TrackingError

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_store_names_a_server_that_is_down_with_the_password_redacted(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cret@127.0.0.1:{closed_port()}")
    started = time.perf_counter()
    with pytest.raises(TrackingError) as info:
        tracking.check_store(timeout_s=2)
    message = str(info.value)
    assert "http://alice:***@127.0.0.1:" in message and "is not reachable" in message
    assert "s3cret" not in message
    assert time.perf_counter() - started < 10  # no MLflow retry loop


def test_check_store_accepts_the_project_sqlite_store(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    assert tracking.check_store().startswith("sqlite:///")


def test_a_stage_stops_before_any_work_when_the_server_is_down(tmp_path):
    root = make_project(tmp_path / "proj")
    env = {**os.environ, "QML_OPS_PROJECT_ROOT": str(root),
           "MLFLOW_TRACKING_URI": f"http://u:pw-secret@127.0.0.1:{closed_port()}"}
    proc = subprocess.run([sys.executable, str(REPO / "pipelines" / "train.py")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "stage train: error: MLflow tracking server http://u:***@127.0.0.1:" in proc.stderr
    assert "pw-secret" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert not (root / "models").exists() and not (root / "metrics").exists()  # nothing half-written


@pytest.mark.mlflow_server
def test_check_store_passes_on_the_running_server(mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    assert tracking.check_store() == mlflow_server


@pytest.mark.postgres
def test_check_store_reports_a_database_that_refuses_the_password(pg_password_url, monkeypatch):
    import sqlalchemy

    url = sqlalchemy.engine.make_url(pg_password_url).set(password="wrong-password")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url.render_as_string(hide_password=False))
    with pytest.raises(TrackingError) as info:
        tracking.check_store()
    message = str(info.value)
    assert "cannot be opened" in message and ":***@" in message and "wrong-password" not in message
