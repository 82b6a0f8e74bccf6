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
