"""``qml-ops ui``: the MLflow UI on the project's store, or the address of the team's server.

* ``MLFLOW_TRACKING_URI`` is an ``http(s)://`` server: nothing is started; the
  command prints the server's address (any password in it redacted), where its
  UI already is.
* Otherwise it starts ``mlflow server`` on the store the stages write to (the
  project's ``sqlite:///<project>/mlruns/mlflow.db``, or the database
  ``MLFLOW_TRACKING_URI`` names), with artifacts under ``<project>/mlruns/artifacts``,
  on ``127.0.0.1`` (``--host``, ``--port``), prints the URL and serves until Ctrl-C.

Example:
    $ qml-ops ui --port 5001
    MLflow UI: http://127.0.0.1:5001  (store sqlite:////home/me/qml-ops/mlruns/mlflow.db; Ctrl-C stops it)
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

from qml_ops.errors import ConfigError
from qml_ops.project import MLFLOW_DIR, find_root
from qml_ops.tracking.runs import TRACKING_ENV, default_tracking_uri

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


def redact(uri: str) -> str:
    """``uri`` with any password (``user:password@``) replaced by ``***``."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", uri)  # as tracking.ui_address


def is_server(uri: str | None) -> bool:
    return bool(uri) and uri.startswith(("http://", "https://"))


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def server_command(store_uri: str, artifacts: Path, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line for ``store_uri`` (this interpreter's mlflow)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
            "--default-artifact-root", artifacts.resolve().as_uri(), "--host", host, "--port", str(port),
            "--workers", "1"]


def plan(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, root: Path | None = None) -> tuple[str, list[str] | None]:
    """What ``qml-ops ui`` does: (the line it prints, the server command to run or ``None``).

    Raises:
        ConfigError: ``port`` is out of range or already in use on ``host``.
    """
    configured = os.environ.get(TRACKING_ENV)
    if is_server(configured):
        return (f"MLflow UI: {redact(configured)}  (the tracking server {TRACKING_ENV} points at; "
                "nothing started)"), None
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: must be a TCP port, 1-65535")
    if not port_free(host, port):
        raise ConfigError(f"--port {port}: {host}:{port} is already in use; pick another, e.g. --port {port + 1}")
    root = root or find_root()
    store = configured or default_tracking_uri(root)
    if store.startswith("sqlite:///"):
        Path(store.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    artifacts = root / MLFLOW_DIR / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    line = f"MLflow UI: http://{shown}:{port}  (store {redact(store)}; Ctrl-C stops it)"
    return line, server_command(store, artifacts, host, port)


def run_ui(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Print the UI's URL; start the server (it replaces this process) unless one is configured."""
    line, command = plan(host, port)
    print(line, flush=True)
    if command is None:
        return 0
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true")}
    sys.stderr.flush()
    os.execve(command[0], command, env)  # Ctrl-C and signals reach the server directly
    return 0  # pragma: no cover
