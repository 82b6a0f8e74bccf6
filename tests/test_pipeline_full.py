"""The whole pipeline through the README's wrapper (`scripts/dvc`), in a real git + DVC copy.

prepare → encode → baseline → tune → train → evaluate → hardware (emulated), then
an experiment in a temporary workspace (`dvc exp run --temp`) whose MLflow run
must land in the project's store, not in the throw-away copy.
"""

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO
from pipeline_helpers import copy_repo, ran_stages, set_params
from test_stage_deps import TRACE_SUPPORT, undeclared_reads

pytestmark = [pytest.mark.dvc, pytest.mark.slow]

TINY = dict(
    prepare={"max_per_class": 40},
    encode={"n_qubits": 4},
    tune={"n_trials": 2, "space": {"ansatz": [1, 2], "lr": {"low": 0.02, "high": 0.1, "log": True},
                                   "batch_size": [16], "epochs": [3], "optimizer": ["adam"], "loss": ["mse"]}},
    evaluate={"shots": 128, "shot_seeds": 2},
    hardware={"devices": ["iqm-garnet"], "n_samples": 4, "shots": 100},
)


def wrapper(repo: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("QML_OPS_PROJECT_ROOT", "MLFLOW_TRACKING_URI")}
    env.update(env_extra or {})
    proc = subprocess.run([str(repo / "scripts/dvc"), *args], cwd=repo, capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, f"scripts/dvc {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def dvc_metrics(repo: Path) -> dict[str, object]:
    """`dvc metrics show --json`, flattened to ``{"file:key.path": value}``."""
    shown = json.loads(wrapper(repo, "metrics", "show", "--json").stdout)
    flat = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}" if prefix.endswith(":") else f"{prefix}.{key}", inner)
        else:
            flat[prefix] = value

    for rev in shown.values():
        for path, entry in (rev.get("data") or {}).items():
            walk(path + ":", entry.get("data"))
    return flat


def runs(repo: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(repo / "mlruns/mlflow.db") as db:
        return db.execute("select name, status from runs").fetchall()


def test_dvc_repro_whole_pipeline_and_temp_experiment(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    for env in (".venv", ".tools"):  # the environments `make` built, shared by the copy
        (repo / env).symlink_to(REPO / env)
    set_params(repo, **TINY)

    trace = tmp_path / "reads.tsv"  # every file each stage script opens (tests/support/sitecustomize.py)
    path = os.pathsep.join(filter(None, [str(TRACE_SUPPORT), os.environ.get("PYTHONPATH")]))
    first = wrapper(repo, "repro", env_extra={"PYTHONPATH": path, "QML_OPS_TRACE_READS": str(trace)})
    assert ran_stages(first.stdout) == {"prepare", "encode", "baseline", "tune", "train", "evaluate", "hardware"}
    evaluate = json.loads((repo / "reports/evaluate.json").read_text())
    for key in ("test_accuracy", "test_accuracy_shots_mean", "test_accuracy_shots_std", "shots"):
        assert key in evaluate
    assert set(evaluate["baselines"]) == {"logreg", "mlp"}
    tune = json.loads((repo / "reports/tune.json").read_text())
    assert tune["n_trials"] == 2 and tune["n_complete"] + tune["n_pruned"] + tune["n_failed"] == 2
    hardware = json.loads((repo / "reports/hardware.json").read_text())
    assert hardware["status"] == "ok" and set(hardware["devices"]) == {"iqm-garnet"}
    # the metrics files hold numbers only, and few of them (readable in `dvc metrics show`)
    metrics = dvc_metrics(repo)
    assert metrics and all(isinstance(v, (int, float, bool)) for v in metrics.values()), metrics
    assert len(metrics) < 60
    assert metrics["metrics/hardware.json:iqm-garnet.accuracy_ci_low"] <= metrics["metrics/hardware.json:iqm-garnet.accuracy"]
    # `dvc plots show` renders every plot from the data the stages wrote
    shown = json.loads(wrapper(repo, "plots", "show", "--json").stdout)
    assert not shown.get("errors"), shown.get("errors")
    assert {"learning_curves", "tuning_history", "confusion_matrix", "hardware_accuracy",
            "hardware_cost_vs_accuracy"} <= set(shown["data"])
    names = [name for name, _ in runs(repo)]
    assert names.count("train-qcnn") == 1 and "hardware-emulate" in names and "baseline-logreg" in names

    # each stage lists every project file it read as a dependency (so none can go stale)
    assert trace.exists(), "the read trace was not written"
    assert undeclared_reads(repo, trace) == {}

    # nothing changed: nothing runs
    assert ran_stages(wrapper(repo, "repro").stdout) == set()

    # an experiment in a temp copy: its runs land in this project's store
    before = len(runs(repo))
    wrapper(repo, "exp", "run", "--temp", "-S", "train.lr=0.05", "-S", "train.use_tuned=false")
    after = runs(repo)
    assert len(after) > before
    assert [name for name, _ in after].count("train-qcnn") == 2
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db")), "a run was written inside the temp workspace"

    # a queued experiment, run by a DVC queue worker (which calls `dvc` itself)
    wrapper(repo, "exp", "run", "--queue", "-S", "train.lr=0.03", "-S", "train.use_tuned=false")
    wrapper(repo, "queue", "start")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = wrapper(repo, "queue", "status").stdout
        if "Success" in status or "Failed" in status:
            break
        time.sleep(3)
    assert "Success" in status, status
    assert [name for name, _ in runs(repo)].count("train-qcnn") == 3
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db")), "a run was written inside the queue workspace"
