"""Shared fixtures: the repository root, the DVC tool, small params files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def dvc_binary() -> str | None:
    """DVC lives in its own tool environment (see the Makefile)."""
    candidate = os.environ.get("QML_OPS_DVC") or str(REPO / ".tools" / "dvc" / "bin" / "dvc")
    if Path(candidate).exists():
        return candidate
    return shutil.which("dvc")


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch, tmp_path):
    """Tests never write into the real project's MLflow store or study storage."""
    monkeypatch.delenv("QML_OPS_PROJECT_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    yield


# --- real servers (started by .ci/services.sh; .ci/run starts them in CI) -----------------
# A missing server skips a test locally, and fails it in CI (CI=true), so none is skipped there.

def require_service(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    if os.environ.get("CI"):
        pytest.fail(f"{variable} is not set: .ci/run must start {what} (.ci/services.sh)")
    pytest.skip(f"no {what} (set {variable}; `.ci/services.sh start` starts one)")


def _fresh_database(admin_url: str, owner: str | None = None):
    import uuid

    import sqlalchemy

    name = f"qmlops_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else "")))
    try:
        yield name
    finally:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def pg_url():
    """A fresh database on the CI's PostgreSQL server (QML_OPS_TEST_PG_URL), no password."""
    admin = require_service("QML_OPS_TEST_PG_URL", "PostgreSQL")
    for name in _fresh_database(admin):
        yield admin.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg_password_url():
    """A fresh database owned by a role that must give its password (it is in the URL)."""
    import sqlalchemy

    admin = require_service("QML_OPS_TEST_PG_URL", "PostgreSQL")
    with_password = sqlalchemy.engine.make_url(
        require_service("QML_OPS_TEST_PG_PASSWORD_URL", "PostgreSQL with a password role"))
    for name in _fresh_database(admin, owner=with_password.username):
        yield with_password.set(database=name).render_as_string(hide_password=False)


class S3Endpoint:
    """The test S3 server (moto's server mode) and credentials it accepts (any)."""

    def __init__(self, url: str):
        self.url = url
        self.credentials = {"AWS_ACCESS_KEY_ID": "qmlOpsTestKey",
                            "AWS_SECRET_ACCESS_KEY": "qmlOpsTestS3SecretNeverCommitted",
                            "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")

    def new_bucket(self, prefix: str = "qml-ops-test") -> str:
        import uuid

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _reachable(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture
def s3_endpoint() -> S3Endpoint:
    url = require_service("QML_OPS_TEST_S3_ENDPOINT", "an S3 endpoint (moto_server)")
    assert _reachable(f"{url}/moto-api/"), f"QML_OPS_TEST_S3_ENDPOINT={url} does not answer"
    return S3Endpoint(url)


@pytest.fixture
def mlflow_server() -> str:
    """The MLflow tracking server's URL (PostgreSQL backend, artifacts proxied to S3)."""
    url = require_service("QML_OPS_TEST_MLFLOW_URL", "an MLflow tracking server")
    assert _reachable(f"{url}/health"), f"QML_OPS_TEST_MLFLOW_URL={url} does not answer"
    return url


@pytest.fixture
def mlflow_bucket() -> str:
    return require_service("QML_OPS_TEST_MLFLOW_BUCKET", "an MLflow tracking server")


@pytest.fixture
def slurm_cluster() -> None:
    """A Slurm cluster whose node is up (`sinfo`), where sbatch/squeue/scontrol work."""
    import subprocess

    require_service("QML_OPS_TEST_SLURM", "a Slurm cluster")
    assert shutil.which("sbatch"), "QML_OPS_TEST_SLURM is set but sbatch is not on PATH"
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=True).stdout.split()
    assert {"idle", "mixed", "allocated"} & set(states), f"no Slurm node is up: {states}"
