"""`qml-ops ui`: the MLflow UI on the project's store, or the configured server's address."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from qml_ops.errors import ConfigError
from qml_ops.tracking import ui
from project_fixtures import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_configured_server_is_printed_with_its_password_redacted(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://alice:s3cret@mlflow.example.org:5000")
    line, command = ui.plan(root=tmp_path)
    assert command is None and "s3cret" not in line
    assert "https://alice:***@mlflow.example.org:5000" in line
    proc = subprocess.run([sys.executable, "-m", "qml_ops.cli", "ui"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 0 and "alice:***@mlflow.example.org" in proc.stdout and "s3cret" not in proc.stdout


def test_the_project_store_and_a_busy_port(monkeypatch, tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    port = free_port()
    line, command = ui.plan(port=port, root=tmp_path)
    assert line.startswith(f"MLflow UI: http://127.0.0.1:{port}")
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    assert command[command.index("--default-artifact-root") + 1] == (tmp_path / "mlruns/artifacts").resolve().as_uri()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(ConfigError, match=f"--port {port}: 127.0.0.1:{port} is already in use"):
            ui.plan(port=port, root=tmp_path)


@pytest.mark.slow
def test_qml_ops_ui_serves_the_mlflow_ui_until_stopped(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "QML_OPS_PROJECT_ROOT")}
    proc = subprocess.Popen([sys.executable, "-m", "qml_ops.cli", "ui", "--port", str(port)], cwd=tmp_path,
                            env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"MLflow UI: http://127.0.0.1:{port}"), first
        page, deadline = "", time.time() + 240
        while time.time() < deadline and not page:
            assert proc.poll() is None, proc.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(2)
        assert "<title>MLflow" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert response.read().decode().strip() == "OK"
        assert (tmp_path / "mlruns" / "mlflow.db").exists()  # the project's store
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):  # the server's whole process group
            if proc.poll() is not None:
                break
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                continue
    assert proc.poll() is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
