"""Optuna studies on real storage (SQLite; PostgreSQL where CI starts one), every trial an MLflow child run."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from qml_ops import io, tracking
from qml_ops.config import load_params
from qml_ops.model import QCNNClassifier
from qml_ops.training_data import load_encoded
from qml_ops.tuning.runner import best_params_document, run_study, study_ref
from qml_ops.tuning.study import create_or_load, n_finished, redact
from project_fixtures import files_under, make_project, run_stage_main, use_project


def child_runs(parent_run_id: str, experiment: str = "test"):
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=1000)


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    return root


def test_study_runs_trials_as_nested_runs_and_resumes(project):
    params = load_params("params.yaml")
    run_stage_main("tune")  # the stage writes what the library returns
    summary = io.read_json(project / "reports/tune.json")
    numbers = io.read_json(project / "metrics/tune.json")  # numbers only
    assert {k: v for k, v in numbers.items() if k not in ("pareto", "selection")} == {
        k: summary[k] for k in ("best_value", "best_trial", "n_finished", "n_complete", "n_pruned", "n_failed")}
    assert numbers["pareto"] == summary["pareto"]  # DVC's tables skip lists: no columns
    assert all(isinstance(v, (int, float)) for v in numbers["selection"].values())
    history = (project / "plots/tune/trials.csv").read_text().splitlines()
    assert history[0].startswith("trial,state,value,best_so_far") and len(history) == 1 + 3
    assert [row["trial"] for row in summary["trials"]] == [0, 1, 2]
    assert summary["n_trials"] == 3 and summary["n_finished"] == 3
    assert summary["n_complete"] + summary["n_pruned"] + summary["n_failed"] == 3
    assert set(summary["best_params"]) == {"ansatz", "lr", "batch_size", "epochs", "optimizer", "loss"}
    metrics = io.read_json(project / "reports/tune.json")
    for key in ("study", "storage", "n_trials", "n_complete", "n_pruned", "n_failed", "best_value", "best_params",
                "mlflow_experiment", "mlflow_parent_run_id"):
        assert key in metrics
    assert metrics["storage"].startswith("sqlite:///optuna/")
    assert io.read_json(project / "tune/best_params.json")["best_params"] == summary["best_params"]
    ref = study_ref(params, load_encoded())
    complete = [t for t in optuna.load_study(study_name=ref.name, storage=ref.storage_url).trials
                if t.state == optuna.trial.TrialState.COMPLETE]
    top = max(t.value for t in complete)
    expected = min((t for t in complete if t.value == top), key=lambda t: t.user_attrs["val_loss"])
    assert summary["best_trial"] == expected.number  # ties in accuracy go to the lower validation loss

    tracking.configure("test")
    children = child_runs(summary["mlflow_parent_run_id"])
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == [0, 1, 2]
    assert all(r.data.tags["optuna.state"] in ("COMPLETE", "PRUNED") for r in children)
    assert all(r.data.params["study"] == summary["study"] for r in children)
    history = tracking.client().get_metric_history(children[0].info.run_id, "val_accuracy")
    assert len(history) >= 1
    parent = tracking.client().get_run(summary["mlflow_parent_run_id"])
    assert {"optimization_history.png", "trials.json"} <= {a.path for a in tracking.client().list_artifacts(parent.info.run_id)}
    assert parent.data.metrics["best_value"] == summary["best_value"]

    # re-running continues the same study up to the new total, under the same parent run
    params = params.model_copy(update={"tune": params.tune.model_copy(update={"n_trials": 5})})
    before = files_under(project, ignore=("mlruns/", "optuna/"))
    again = run_study(params, progress=False)
    assert again["study"] == summary["study"] and again["n_finished"] == 5
    # the library wrote no stage output: only the study and MLflow stores changed
    assert files_under(project, ignore=("mlruns/", "optuna/")) == before
    assert io.read_json(project / "metrics/tune.json")["n_finished"] == 3
    assert best_params_document(again) == {"study": again["study"], "best_value": again["best_value"],
                                           "best_params": again["best_params"]}
    assert again["mlflow_parent_run_id"] == summary["mlflow_parent_run_id"]
    assert len(child_runs(summary["mlflow_parent_run_id"])) == 5
    # and with the budget reached, a re-run adds nothing
    assert run_study(params, progress=False)["n_finished"] == 5


def test_failing_trial_is_recorded_and_study_continues(project, monkeypatch):
    params = load_params("params.yaml")
    ref = study_ref(params, load_encoded())
    study = create_or_load(params, ref)
    study.enqueue_trial({"ansatz": 1})
    study.enqueue_trial({"ansatz": 2})
    original = QCNNClassifier._loss

    def nan_for_ansatz_1(self, z, y):
        loss = original(self, z, y)
        return loss * float("nan") if self.ansatz == 1 else loss

    monkeypatch.setattr(QCNNClassifier, "_loss", nan_for_ansatz_1)
    summary = run_study(params, progress=False)
    assert summary["n_failed"] >= 1 and summary["n_finished"] == 3
    failed = [t for t in optuna.load_study(study_name=ref.name, storage=ref.storage_url).trials
              if t.state == optuna.trial.TrialState.FAIL]
    assert "diverged" in failed[0].user_attrs["fail_reason"]
    runs = child_runs(summary["mlflow_parent_run_id"])
    failed_runs = [r for r in runs if r.data.tags["optuna.state"] == "FAIL"]
    assert failed_runs and failed_runs[0].info.status == "FAILED"
    assert "diverged" in failed_runs[0].data.tags["optuna.fail_reason"]


def test_killed_study_loses_no_finished_trial_and_resumes(project, monkeypatch):
    monkeypatch.setenv("QML_OPS_TUNE_HEARTBEAT_S", "1")
    text = (project / "params.yaml").read_text().replace("n_trials: 3", "n_trials: 4").replace("epochs: [3]", "epochs: [300]")
    (project / "params.yaml").write_text(text)
    params = load_params("params.yaml")
    ref = study_ref(params, load_encoded())
    proc = subprocess.Popen([sys.executable, "-m", "qml_ops.cli", "tune", "--params", "params.yaml"],
                            cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    storage = optuna.storages.RDBStorage(ref.storage_url)
    done = []
    while time.time() < deadline and proc.poll() is None:
        try:
            trials = optuna.load_study(study_name=ref.name, storage=storage).trials
        except KeyError:
            trials = []
        done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        # kill mid-trial, once the running trial has sent a heartbeat
        if done and running and (time.time() - running[0].datetime_start.timestamp()) > 1.5:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the study finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {t.number: t.value for t in done}
    time.sleep(3.5)  # past the heartbeat grace period: the killed trial is stale
    summary = run_study(params, progress=False)
    trials = optuna.load_study(study_name=ref.name, storage=storage).trials
    after = {t.number: t.value for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert all(after[n] == v for n, v in before.items()), "a finished trial was lost"
    assert summary["n_finished"] == 4
    assert any(t.state == optuna.trial.TrialState.FAIL and "fail_reason" not in t.user_attrs for t in trials)


def test_redact_removes_passwords():
    assert redact("postgresql://alice:hunter2@db:5432/x") == "postgresql://alice:***@db:5432/x"


@pytest.mark.postgres
def test_two_workers_on_postgres_run_each_trial_once(project, pg_url):
    text = (project / "params.yaml").read_text().replace("n_trials: 3", "n_trials: 6")
    (project / "params.yaml").write_text(text.replace("tune:\n", f"tune:\n  storage: {pg_url}\n", 1))
    params = load_params("params.yaml")
    summary = run_study(params, "params.yaml", workers=2)
    study = optuna.load_study(study_name=summary["study"], storage=pg_url)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    finished = [t for t in study.trials if t.state.is_finished()]
    assert 6 <= len(finished) <= 7  # a second worker may start one trial before the first sees the budget
    tracking.configure("test")
    runs = child_runs(summary["mlflow_parent_run_id"])
    run_numbers = [int(r.data.tags["optuna.trial_number"]) for r in runs]
    assert sorted(run_numbers) == sorted(t.number for t in finished), "each trial exactly once in MLflow"
    assert len({r.data.tags["qml_ops.worker"] for r in runs}) == 2, "both workers ran trials"
    assert summary["storage"] == redact(pg_url)  # no password in this URL; redaction is tested above
