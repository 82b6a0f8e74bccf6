"""`qml-ops tune submit --slurm` without a cluster: the script, the checks, the refusals.

The job array itself runs on a real one-node Slurm in tests/scale/test_slurm_tuning.py.
"""

import subprocess

import pytest

from qml_ops.cli import main
from qml_ops.config import load_params
from qml_ops.errors import ConfigError, QmlOpsError
from qml_ops.tuning.slurm import ArrayRequest, render_script, submit_workers
from qml_ops.tuning.workers import identity, label
from project_fixtures import make_project, use_project

SECRET = "pw-must-not-leak-7f3a"
PG_URL = f"postgresql+psycopg2://optuna:{SECRET}@127.0.0.1:1/optuna"  # nothing listens on port 1


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    return root


def test_script_fills_every_placeholder_and_is_valid_bash(tmp_path):
    request = ArrayRequest(workers=3, cpus_per_task=2, partition="gpu", time="01:30:00", gres="gpu:1")
    script = render_script("my-study", tmp_path / "params.yaml", tmp_path, request, python="/opt/venv/bin/python")
    assert "{{" not in script and "}}" not in script
    lines = script.splitlines()
    assert "#SBATCH --array=0-2" in lines and "#SBATCH --cpus-per-task=2" in lines
    assert "#SBATCH --partition=gpu" in lines and "#SBATCH --time=01:30:00" in lines and "#SBATCH --gres=gpu:1" in lines
    assert f"#SBATCH --chdir={tmp_path}" in lines
    directives = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
    commands = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
    assert max(directives) < min(commands), "sbatch reads #SBATCH lines only before the first command"
    assert lines[-1].startswith("exec /opt/venv/bin/python -m qml_ops.cli tune worker --study my-study")
    assert '--threads "${SLURM_CPUS_PER_TASK:-1}"' in lines[-1]
    path = tmp_path / "job.sbatch"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)


@pytest.mark.parametrize("kwargs, key", [
    ({"workers": 0}, "--workers = 0"),
    ({"workers": 2, "cpus_per_task": 0}, "--cpus-per-task = 0"),
    ({"workers": 2, "partition": "gpu\n#SBATCH --qos=high"}, "--partition = "),
    ({"workers": 2, "time": "1 hour"}, "--time = '1 hour'"),
])
def test_bad_array_request_names_the_option(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        ArrayRequest(**kwargs)


def test_dry_run_prints_the_script_without_the_password(project, monkeypatch, capsys):
    monkeypatch.setenv("QML_OPS_TUNE_STORAGE", PG_URL)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow-host:5000")
    code = main(["tune", "submit", "--slurm", "--workers", "2", "--gres", "gpu:1", "--dry-run"])
    out = capsys.readouterr()
    assert code == 0
    assert "#SBATCH --array=0-1" in out.out and "#SBATCH --gres=gpu:1" in out.out
    assert "QML_OPS_TUNE_STORAGE" in out.out  # the script reads the URL from its environment
    assert SECRET not in out.out + out.err and "optuna:" not in out.out
    assert not (project / "slurm").exists(), "a dry run writes nothing"


def test_sqlite_study_storage_is_refused_unless_allowed(project, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow-host:5000")
    params = load_params("params.yaml")
    with pytest.raises(ConfigError, match=r"sqlite:///optuna/.*SQLite.*--allow-sqlite"):
        submit_workers(params, "params.yaml", ArrayRequest(workers=2), dry_run=True)
    allowed = submit_workers(params, "params.yaml", ArrayRequest(workers=2), allow_sqlite=True, dry_run=True)
    assert "#SBATCH --array=0-1" in allowed.script


def test_local_mlflow_store_is_refused_for_slurm_workers(project, monkeypatch):
    monkeypatch.setenv("QML_OPS_TUNE_STORAGE", PG_URL)  # MLFLOW_TRACKING_URI unset: the project's SQLite
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI = 'sqlite:///.*--allow-sqlite") as err:
        submit_workers(load_params("params.yaml"), "params.yaml", ArrayRequest(workers=2), dry_run=True)
    assert SECRET not in str(err.value)


def test_missing_sbatch_stops_before_the_study_is_created(project, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("QML_OPS_TUNE_STORAGE", PG_URL)  # unreachable: reached only if sbatch were found
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow-host:5000")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(QmlOpsError, match="sbatch not found on PATH"):
        submit_workers(load_params("params.yaml"), "params.yaml", ArrayRequest(workers=2))
    assert not (project / "slurm").exists()


def test_worker_identity_and_label():
    assert identity({})["qml_ops.worker"].endswith(f":{__import__('os').getpid()}")
    assert "slurm.array_task_id" not in identity({})
    slurm = identity({"SLURM_JOB_ID": "43", "SLURM_ARRAY_JOB_ID": "41", "SLURM_ARRAY_TASK_ID": "2"})
    assert slurm["slurm.array_task_id"] == "2" and slurm["slurm.array_job_id"] == "41"
    assert label(slurm).startswith("slurm 41_2 (")
    assert label({"qml_ops.worker": "n1:7"}) == "n1:7" and label(None) == "unknown"


def test_status_counts_trials_per_worker(project, capsys):
    from qml_ops.tuning.runner import run_study

    summary = run_study(load_params("params.yaml"), progress=False)
    capsys.readouterr()
    assert main(["tune", "status", "--json"]) == 0
    import json

    status = json.loads(capsys.readouterr().out)
    assert status["study"] == summary["study"] and status["n_finished"] == 3 == status["n_trials"]
    (worker, counts), = status["workers"].items()  # one local process ran all three
    assert worker.endswith(f":{__import__('os').getpid()}")
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) + counts.get("FAIL", 0) == 3
    assert main(["tune", "status"]) == 0
    table = capsys.readouterr().out
    assert "3/3 counted trials" in table and worker in table
    assert main(["tune", "status", "--study", "no-such-study"]) == 2
    assert "does not exist" in capsys.readouterr().err
