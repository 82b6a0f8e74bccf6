"""Tuning workers as a real Slurm job array (a one-node cluster, .ci/services.sh).

The study lives in PostgreSQL behind a role that must give its password; the
trials log to the MLflow tracking server. The password travels only in the
environment: it must not appear in the script, the output, the logs or MLflow.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from project_fixtures import make_project

pytestmark = [pytest.mark.slurm, pytest.mark.mlflow_server, pytest.mark.postgres]

N_TRIALS = 6
EXPERIMENT = f"slurm-{uuid.uuid4().hex[:8]}"  # the server outlives a test session


def qml_ops(root: Path, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "qml_ops.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"qml-ops {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def wait_for_job(job_id: str, timeout_s: float = 420) -> list[dict[str, str]]:
    """Poll squeue until the array left the queue; its tasks' final records (scontrol keeps them a while)."""
    deadline = time.time() + timeout_s
    while subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True).stdout.strip():
        if time.time() > deadline:
            subprocess.run(["scancel", job_id])
            pytest.fail(f"Slurm job {job_id} still queued after {timeout_s} s")
        time.sleep(2)
    shown = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=True)
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in shown.stdout.splitlines() if line.strip()]


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "proj")
    text = (root / "params.yaml").read_text()
    text = text.replace("n_trials: 3", f"n_trials: {N_TRIALS}").replace("epochs: [3]", "epochs: [4]")
    (root / "params.yaml").write_text(text.replace("experiment: test", f"experiment: {EXPERIMENT}"))
    return root


def test_job_array_completes_the_study_and_keeps_the_password_out(project, pg_password_url, mlflow_server,
                                                                  slurm_cluster):
    password = make_url(pg_password_url).password
    assert password
    env = {**os.environ, "QML_OPS_TUNE_STORAGE": pg_password_url, "MLFLOW_TRACKING_URI": mlflow_server,
           "QML_OPS_PROJECT_ROOT": str(project)}

    submitted = qml_ops(project, env, "tune", "submit", "--slurm", "--workers", "2", "--params", "params.yaml")
    job_id = re.search(r"Slurm job array (\d+) \(2 task", submitted.stdout).group(1)
    for hint in (f"squeue -j {job_id}", f"sacct -j {job_id}", "qml-ops tune status", f"-{job_id}_<task>.out"):
        assert hint in submitted.stdout
    tasks = wait_for_job(job_id)
    assert sorted(t["ArrayTaskId"] for t in tasks) == ["0", "1"]
    assert all(t["JobState"] == "COMPLETED" and t["ExitCode"] == "0:0" for t in tasks), tasks

    # Optuna: the study is done, every trial once, each recorded with its array task
    study_name = re.search(r"on study '([^']+)'", submitted.stdout).group(1)
    study = optuna.load_study(study_name=study_name, storage=pg_password_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert N_TRIALS <= len(finished) <= N_TRIALS + 1  # the other worker may start one more before it sees the budget
    assert len({t.number for t in study.trials}) == len(study.trials)
    task_of = {t.number: t.user_attrs["worker"]["slurm.array_task_id"] for t in finished}
    assert set(task_of.values()) == {"0", "1"}, "both array tasks ran trials"
    assert {t.user_attrs["worker"]["slurm.array_job_id"] for t in finished} == {job_id}

    # MLflow: each finished trial exactly once under the study's run, tagged with its array task
    client = MlflowClient(mlflow_server)
    parent_id = study.user_attrs["mlflow_parent_run_id"]
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'",
                              max_results=1000)
    numbers = [int(r.data.tags["optuna.trial_number"]) for r in runs]
    assert sorted(numbers) == sorted(task_of), "each trial exactly once in MLflow"
    assert {int(r.data.tags["optuna.trial_number"]): r.data.tags["slurm.array_task_id"] for r in runs} == task_of
    assert all(r.data.tags["slurm.array_job_id"] == job_id for r in runs)

    # tune status: trials per worker = per array task
    status = json.loads(qml_ops(project, env, "tune", "status", "--json").stdout)
    per_task = {name.split()[1]: sum(counts.values()) for name, counts in status["workers"].items()}
    assert per_task == {f"{job_id}_{task}": list(task_of.values()).count(task) for task in ("0", "1")}
    table = qml_ops(project, env, "tune", "status").stdout

    # the password is nowhere: script, outputs, logs, MLflow params and tags
    script = (project / "slurm" / f"{study_name}.sbatch").read_text()
    logs = "".join(p.read_text() for p in (project / "slurm" / "logs").glob("*.out"))
    assert f"tune-{study_name}-{job_id}_0.out" in {p.name for p in (project / "slurm" / "logs").glob("*.out")}
    parent = client.get_run(parent_id)
    assert parent.data.tags["optuna.storage"] == pg_password_url.replace(password, "***")
    recorded = [parent, *runs]
    texts = [script, submitted.stdout, submitted.stderr, table, logs, json.dumps(status)]
    texts += [json.dumps({**r.data.params, **r.data.tags}) for r in recorded]
    leaks = [i for i, text in enumerate(texts) if password in text]
    assert not leaks, f"the storage password leaked into texts {leaks}"

    # the pipeline's tune step then finds the study done: no new trial. Its params name the storage without
    # the password, which libpq takes from PGPASSWORD (or ~/.pgpass)
    url = make_url(pg_password_url)
    text = (project / "params.yaml").read_text()
    public = url.set(password=None).render_as_string(hide_password=False)
    (project / "params.yaml").write_text(text.replace("tune:\n", f"tune:\n  storage: {public}\n", 1))
    local = {k: v for k, v in env.items() if k != "QML_OPS_TUNE_STORAGE"}
    final = qml_ops(project, {**local, "PGPASSWORD": password}, "tune")
    assert password not in final.stdout + final.stderr
    assert len(optuna.load_study(study_name=study_name, storage=pg_password_url).trials) == len(study.trials)


def test_submit_with_bad_storage_names_the_redacted_url_and_submits_nothing(project, pg_password_url,
                                                                            slurm_cluster):
    url = make_url(pg_password_url)
    unreachable = url.set(port=1).render_as_string(hide_password=False)
    wrong_password = url.set(password="wrong-pw-4c1d").render_as_string(hide_password=False)
    for storage, secret, reason in ((unreachable, url.password, "Connection refused"),
                                    (wrong_password, "wrong-pw-4c1d", "password authentication failed")):
        env = {**os.environ, "QML_OPS_TUNE_STORAGE": storage, "QML_OPS_PROJECT_ROOT": str(project)}
        proc = qml_ops(project, env, "tune", "submit", "--slurm", "--workers", "2", "--allow-sqlite", check=False)
        assert proc.returncode == 2, proc.stderr
        assert storage.replace(secret, "***") in proc.stderr and reason in proc.stderr
        assert secret not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (project / "slurm").exists(), "no script written, nothing submitted"


def test_cancelled_task_trial_is_failed_by_heartbeat_and_retried(project, pg_password_url, mlflow_server,
                                                                 slurm_cluster):
    """scancel one array task mid-trial: its trial goes stale and is retried by the other task; no finished
    trial is lost and the killed trial's MLflow run is not counted as a finished trial."""
    text = (project / "params.yaml").read_text().replace(f"n_trials: {N_TRIALS}", "n_trials: 4")
    (project / "params.yaml").write_text(text.replace("epochs: [4]", "epochs: [40]"))
    env = {**os.environ, "QML_OPS_TUNE_STORAGE": pg_password_url, "MLFLOW_TRACKING_URI": mlflow_server,
           "QML_OPS_PROJECT_ROOT": str(project), "QML_OPS_TUNE_HEARTBEAT_S": "1"}
    submitted = qml_ops(project, env, "tune", "submit", "--slurm", "--workers", "2")
    job_id = re.search(r"Slurm job array (\d+)", submitted.stdout).group(1)
    study_name = re.search(r"on study '([^']+)'", submitted.stdout).group(1)
    storage = optuna.storages.RDBStorage(pg_password_url)
    victim, deadline = None, time.time() + 240
    while victim is None and time.time() < deadline:
        for trial in optuna.load_study(study_name=study_name, storage=storage).trials:
            worker = trial.user_attrs.get("worker", {})
            if (trial.state == optuna.trial.TrialState.RUNNING and worker.get("slurm.array_task_id") == "1"
                    and worker.get("slurm.array_job_id") == job_id
                    and time.time() - trial.datetime_start.timestamp() > 2.5):  # it has sent heartbeats
                victim = trial.number
        time.sleep(0.3)
    assert victim is not None, "array task 1 never ran a trial long enough to be cancelled"
    subprocess.run(["scancel", f"{job_id}_1"], check=True)
    tasks = wait_for_job(job_id)
    assert {t["ArrayTaskId"]: t["JobState"] for t in tasks} == {"0": "COMPLETED", "1": "CANCELLED"}, tasks

    trials = optuna.load_study(study_name=study_name, storage=storage).trials
    killed = trials[victim]
    assert killed.state == optuna.trial.TrialState.FAIL and "fail_reason" not in killed.user_attrs  # stale
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == victim]
    assert len(retried) == 1 and retried[0].state.is_finished(), "the killed trial was run again"
    assert retried[0].params == killed.params
    status = json.loads(qml_ops(project, env, "tune", "status", "--json").stdout)
    assert status["n_finished"] >= 4 and status["states"]["RETRIED"] == 1

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    parent_id = optuna.load_study(study_name=study_name, storage=storage).user_attrs["mlflow_parent_run_id"]
    runs = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'",
                              max_results=1000)
    finished_in_mlflow = sorted(int(r.data.tags["optuna.trial_number"]) for r in runs
                                if r.data.tags["optuna.state"] in ("COMPLETE", "PRUNED"))
    counted = sorted(t.number for t in trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                             optuna.trial.TrialState.PRUNED))
    assert finished_in_mlflow == counted, "each counted trial exactly once, the killed one not among them"
    (killed_run,) = [r for r in runs if r.data.tags["optuna.trial_number"] == str(victim)]
    assert killed_run.data.tags["optuna.state"] == "RUNNING" and killed_run.data.tags["slurm.array_task_id"] == "1"
